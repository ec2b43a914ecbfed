using System.Diagnostics;
using CausalTap.Imaging;
using CausalTap.Tracking.LucasKanade;
using OpenCvSharp;
using Microsoft.ML.OnnxRuntime;

namespace CausalTap.Tracking;

/// <summary>
/// Tracks a changing set of query points through one camera stream, one frame per <see cref="Track"/> call, with
/// causal TAPIR, incremental GMRW, both fused, or TAPIR with pyramidal Lucas-Kanade as the local tracker (see
/// <see cref="Fusion"/>). Not thread-safe: one frame at a time.
/// <para><b>Points.</b> <see cref="AddPoint"/> returns a stable id (1, 2, 3, … never reused within the stream) and
/// queues the point; its query frame is the next frame passed to <see cref="Track"/>: on that frame the TAPIR query
/// graph runs for the new points only and their state rows are zeroed. <see cref="RemovePoint"/> takes effect
/// immediately.</para>
/// <para><b>Rows.</b> Active points occupy rows 0..N−1 of every per-point buffer, in the order they were added (so
/// in ascending id order). A removal compacts the rows after it down by one (an order-preserving move of their query
/// features and causal state, once, at removal time); new points are appended. Results list points in row order.</para>
/// <para><b>Memory.</b> The causal state is one contiguous pinned float buffer of capacity × S floats, double-buffered:
/// step reads <c>state</c> from one and ORT writes <c>new_state</c> into the other, then the two swap — the state is
/// never copied per frame. Every model input and output is an <see cref="OrtValue"/> over a reused pinned buffer,
/// bound once in an <see cref="OrtIoBinding"/> per graph and buffer orientation (two for step and for each GMRW graph,
/// one per parity of the swap), and each frame runs <see cref="InferenceSession.RunWithBinding"/>. The per-point values
/// and their bindings are rebuilt only when the number of points changes, and the buffers grow (doubling) only when it
/// exceeds the capacity. The frame is resized and normalised straight into the pinned encoder input. After the first
/// frame with a given point count, <see cref="Track"/> allocates no managed memory.</para>
/// <para><b>GMRW.</b> Keeps the previous frame's <c>gmrw_features</c> (two buffers, swapped each frame); per frame it
/// runs <c>gmrw_encoder</c> once and <c>gmrw_match</c> once for all points, from each point's previous position — the
/// previous fused position in <see cref="TrackingMethod.Fused"/>, its own GMRW chain in
/// <see cref="TrackingMethod.Gmrw"/> — or, on its query frame, from its query (GMRW's estimate is then the query).</para>
/// <para><b>Coordinates.</b> Points go in and come out in source-image pixels (raster convention) and are mapped to
/// model pixels with <see cref="CoordinateMapping"/> for the size of the frame they are used on. A queued point that
/// lies outside a frame of a different size than the one it was validated against is clamped to that frame.</para>
/// </summary>
public sealed class StreamTracker : IDisposable
{
    private const int InitialCapacity = 8;

    /// <summary>Model the sessions come from.</summary>
    private readonly TrackerModel _model;

    /// <summary>Whether TAPIR graphs run (Tapir, Fused).</summary>
    private readonly bool _useTapir;

    /// <summary>Whether GMRW graphs run (Gmrw, Fused).</summary>
    private readonly bool _useGmrw;

    /// <summary>Model input width / height.</summary>
    private readonly int _w, _h;

    /// <summary>Floats per point: low-res query feature, hi-res query feature, causal state.</summary>
    private readonly int _c, _c2, _s;

    /// <summary>Resizes + normalises frames into <see cref="_frame"/>.</summary>
    private readonly ModelInputWriter _writer;

    /// <summary>The encoder input [1,3,H,W] (pinned) and its value.</summary>
    private readonly float[] _frame;
    private readonly OrtValue _frameValue;

    /// <summary>TAPIR grids (encoder outputs, query/step inputs).</summary>
    private readonly float[] _lowres = [], _hires = [];
    private readonly OrtValue? _lowresValue, _hiresValue;

    /// <summary>GMRW features, two buffers: the current frame's go to [_featParity], the previous frame's are in the other.</summary>
    private readonly float[][] _feat = [[], []];
    private readonly OrtValue?[] _featValue = new OrtValue?[2];
    private int _featParity;

    /// <summary>Frame index whose features are in the "previous" buffer (for a debug check).</summary>
    private long _featPrevFrame = -1;

    /// <summary>Encoder binding (frame -> grids) and GMRW encoder bindings (frame -> _feat[parity]); bound once.</summary>
    private readonly OrtIoBinding? _encoderBinding;
    private readonly OrtIoBinding?[] _gmrwEncoderBinding = new OrtIoBinding?[2];

    /// <summary>Per-point bindings, one per parity (step: state[p] -> state[1-p]; match: features[1-p], [p]), rebuilt with the row values.</summary>
    private readonly OrtIoBinding?[] _stepBinding = new OrtIoBinding?[2], _matchBinding = new OrtIoBinding?[2];

    /// <summary>Query run argument lists (the query runs only on frames that add points, with per-call values).</summary>
    private readonly OrtValue[] _queryIn = new OrtValue[3], _queryOut = new OrtValue[2];

    /// <summary>Row capacity of the per-point buffers and the number of active rows.</summary>
    private int _capacity;
    private int _rows;

    /// <summary>Per-row buffers (capacity rows each, pinned). The causal state is _state[_stateParity] (step's input);
    /// step writes the other one, then the parity flips.</summary>
    private float[] _queryLo = [], _queryHi = [];
    private readonly float[][] _state = [[], []];
    private int _stateParity;
    private float[] _position = [], _occLogit = [], _expdLogit = [];
    private float[] _gPoints = [], _gForward = [], _gBackward = [], _gFb = [];

    /// <summary>Per-row metadata: id, query (model px), chain position for GMRW (model px), added this frame.</summary>
    private int[] _ids = [];
    private float[] _query = [], _chain = [];
    private bool[] _isNew = [];

    /// <summary>TapirLk: the local tracker, and per row its start (previous published position, source px), result and verdict.</summary>
    private readonly PyramidalLucasKanade? _lk;
    private Point2f[] _lkFrom = [], _lkTo = [];
    private bool[] _lkOk = [];
    private int[] _farFrames = []; // per row: consecutive frames a visible TAPIR estimate lay far from it (Fusion.FuseLocal)
    private int _lkWidth, _lkHeight;

    /// <summary>Per-point values over the first <see cref="_valueRows"/> rows (recreated when the count changes).</summary>
    private OrtValue? _qLoV, _qHiV, _state0V, _state1V, _posV, _occV, _expdV, _gPtsV, _gFwdV, _gBwdV, _gFbV;
    private int _valueRows = -1;

    /// <summary>Points added since the last frame (source px), and every live id in add order.</summary>
    private readonly List<(int Id, float X, float Y)> _pending = [];
    private readonly List<int> _pointIds = [];

    private readonly TrackFrameResult _result = new();
    private int _nextId = 1;
    private long _frameIndex;
    private int _lastSourceWidth, _lastSourceHeight;
    private bool _disposed;

    /// <summary>A tracker for one stream on <paramref name="model"/> (sessions are shared; buffers are per stream).</summary>
    public StreamTracker(TrackerModel model, TrackingMethod method = TrackingMethod.Fused)
    {
        ArgumentNullException.ThrowIfNull(model);
        _model = model;
        Method = method;
        _useTapir = method is TrackingMethod.Tapir or TrackingMethod.Fused or TrackingMethod.TapirLk;
        _useGmrw = method is TrackingMethod.Gmrw or TrackingMethod.Fused;
        if ((_useTapir && !model.HasTapir) || (_useGmrw && !model.HasGmrw))
        {
            var has = model.HasTapir ? "only the TAPIR graphs" : "only the GMRW graphs";
            throw new ArgumentException($"{method} tracking needs {TrackingMethods.Needs(method)}; model '{model.Directory.Name}' has {has}.", nameof(method));
        }
        _lk = method == TrackingMethod.TapirLk ? new PyramidalLucasKanade() : null;
        _w = model.InputWidth;
        _h = model.InputHeight;
        _writer = new ModelInputWriter(_w, _h);
        _frame = GC.AllocateArray<float>(_writer.TensorLength, pinned: true);
        _frameValue = OrtValue.CreateTensorValueFromMemory(_frame, [1, 3, _h, _w]);
        if (_useTapir)
        {
            _c = model.LowresDim;
            _c2 = model.HiresDim;
            _s = model.StateFloatsPerPoint;
            _lowres = GC.AllocateArray<float>(Count(model.LowresShape), pinned: true);
            _hires = GC.AllocateArray<float>(Count(model.HiresShape), pinned: true);
            _lowresValue = OrtValue.CreateTensorValueFromMemory(_lowres, model.LowresShape.ToArray());
            _hiresValue = OrtValue.CreateTensorValueFromMemory(_hires, model.HiresShape.ToArray());
            _queryIn[0] = _lowresValue;
            _queryIn[1] = _hiresValue;
            _encoderBinding = model.Encoder!.CreateIoBinding();
            _encoderBinding.BindInput("frame", _frameValue);
            _encoderBinding.BindOutput("lowres", _lowresValue);
            _encoderBinding.BindOutput("hires", _hiresValue);
        }
        if (_useGmrw)
        {
            var n = Count(model.GmrwFeatureShape);
            for (var p = 0; p < 2; p++)
            {
                _feat[p] = GC.AllocateArray<float>(n, pinned: true);
                _featValue[p] = OrtValue.CreateTensorValueFromMemory(_feat[p], model.GmrwFeatureShape.ToArray());
                var binding = _gmrwEncoderBinding[p] = model.GmrwEncoder!.CreateIoBinding();
                binding.BindInput("frame", _frameValue);
                binding.BindOutput("gmrw_features", _featValue[p]!);
            }
        }
        EnsureCapacity(InitialCapacity);
    }

    /// <summary>The method this stream publishes.</summary>
    public TrackingMethod Method { get; }

    /// <summary>The model this stream runs.</summary>
    public TrackerModel Model => _model;

    /// <summary>Ids of every point of the stream (queued ones included), in the order they were added.</summary>
    public IReadOnlyList<int> PointIds => _pointIds;

    /// <summary>Frames tracked so far.</summary>
    public long FrameCount => _frameIndex;

    /// <summary>Stage timings of the last <see cref="Track"/> call.</summary>
    public StageTimings LastTimings { get; private set; }

    /// <summary>
    /// Adds a point at (x, y) in source-image pixels (raster convention, within [0, W] x [0, H] of the stream's frames).
    /// Its query frame is the next frame passed to <see cref="Track"/>. Returns its id (stable, never reused).
    /// Throws <see cref="ArgumentException"/> for a non-finite or negative coordinate, or one beyond the size of the
    /// last frame tracked.
    /// </summary>
    public int AddPoint(float x, float y)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!float.IsFinite(x) || !float.IsFinite(y))
        {
            throw new ArgumentException($"Query point ({x}, {y}) is not a finite position: x and y must be numbers, in source-image pixels.",
                float.IsFinite(x) ? nameof(y) : nameof(x));
        }
        if (x < 0 || y < 0)
        {
            throw new ArgumentException($"Query point ({x}, {y}) is outside the image: source-image pixel coordinates start at 0 " +
                                        "(top-left corner of the top-left pixel).", x < 0 ? nameof(x) : nameof(y));
        }
        if (_lastSourceWidth > 0 && (x > _lastSourceWidth || y > _lastSourceHeight))
        {
            throw new ArgumentException($"Query point ({x}, {y}) is outside the {_lastSourceWidth}x{_lastSourceHeight} image of this stream " +
                                        $"(x must be in [0, {_lastSourceWidth}], y in [0, {_lastSourceHeight}]).",
                x > _lastSourceWidth ? nameof(x) : nameof(y));
        }
        var id = _nextId++;
        _pending.Add((id, x, y));
        _pointIds.Add(id);
        return id;
    }

    /// <summary>Removes a point (queued or tracked); false when the id is not a live point of this stream.</summary>
    public bool RemovePoint(int id)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!_pointIds.Remove(id))
        {
            return false;
        }
        for (var i = 0; i < _pending.Count; i++)
        {
            if (_pending[i].Id == id)
            {
                _pending.RemoveAt(i);
                return true;
            }
        }
        var row = Array.IndexOf(_ids, id, 0, _rows);
        Debug.Assert(row >= 0);
        var tail = _rows - row - 1;
        if (tail > 0)
        {
            // Order-preserving compaction; the state that matters between frames is _state[_stateParity].
            Array.Copy(_ids, row + 1, _ids, row, tail);
            Array.Copy(_query, (row + 1) * 2, _query, row * 2, tail * 2);
            Array.Copy(_chain, (row + 1) * 2, _chain, row * 2, tail * 2);
            if (_lk is not null) Array.Copy(_farFrames, row + 1, _farFrames, row, tail);
            if (_useTapir)
            {
                Array.Copy(_queryLo, (row + 1) * _c, _queryLo, row * _c, tail * _c);
                Array.Copy(_queryHi, (row + 1) * _c2, _queryHi, row * _c2, tail * _c2);
                var state = _state[_stateParity];
                Array.Copy(state, (long)(row + 1) * _s, state, (long)row * _s, (long)tail * _s);
            }
        }
        _rows--;
        return true;
    }

    /// <summary>
    /// Tracks every point on <paramref name="frame"/> (any size; resized to the model input). The result is owned by
    /// this tracker and reused by the next call.
    /// </summary>
    public TrackFrameResult Track(RgbImage frame)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(frame);
        if (frame.Width <= 0 || frame.Height <= 0)
        {
            throw new ArgumentException($"Frame has no pixels ({frame.Width}x{frame.Height}).", nameof(frame));
        }
        var t0 = Stopwatch.GetTimestamp();
        var map = new CoordinateMapping(frame.Width, frame.Height, _w, _h);
        _lastSourceWidth = frame.Width;
        _lastSourceHeight = frame.Height;
        var oldRows = _rows;
        if (_pending.Count > 0)
        {
            EnsureCapacity(_rows + _pending.Count);
            foreach (var (id, x, y) in _pending)
            {
                var r = _rows++;
                var (mx, my) = map.ToModel(x, y);
                _ids[r] = id;
                _query[2 * r] = Math.Clamp(mx, 0f, _w);
                _query[2 * r + 1] = Math.Clamp(my, 0f, _h);
                _chain[2 * r] = _query[2 * r];
                _chain[2 * r + 1] = _query[2 * r + 1];
                _isNew[r] = true;
                if (_lk is not null) _farFrames[r] = 0;
            }
            _pending.Clear();
        }
        var result = _result;
        result.FrameIndex = _frameIndex;
        result.SourceWidth = frame.Width;
        result.SourceHeight = frame.Height;
        result.EnsureCapacity(_rows);
        result.Count = _rows;
        if (_rows == 0)
        {
            _frameIndex++;
            LastTimings = new StageTimings(0, 0, 0, 0, 0, 0, Ms(Stopwatch.GetTimestamp() - t0));
            return result;
        }
        if (_valueRows != _rows)
        {
            RebuildRowValues();
        }

        _writer.Write(frame, _frame);
        var t1 = Stopwatch.GetTimestamp();
        long t2 = t1, t3 = t1, t4 = t1;
        if (_useTapir)
        {
            _model.Encoder!.RunWithBinding(_model.RunOptions, _encoderBinding!);
            t2 = Stopwatch.GetTimestamp();
            if (oldRows < _rows)
            {
                RunQuery(oldRows, _rows - oldRows);
            }
            t3 = Stopwatch.GetTimestamp();
            _model.Step!.RunWithBinding(_model.RunOptions, _stepBinding[_stateParity]!);
            _stateParity ^= 1; // new_state becomes the state: no copy
            t4 = Stopwatch.GetTimestamp();
        }
        var matched = false;
        if (_useGmrw)
        {
            _model.GmrwEncoder!.RunWithBinding(_model.RunOptions, _gmrwEncoderBinding[_featParity]!);
            if (oldRows > 0)
            {
                Debug.Assert(_featPrevFrame == _frameIndex - 1);
                Array.Copy(_chain, _gPoints, 2 * _rows); // new rows start from their query (results ignored)
                _model.GmrwMatch!.RunWithBinding(_model.RunOptions, _matchBinding[_featParity]!);
                matched = true;
            }
            _featParity ^= 1; // this frame's features become the previous ones
            _featPrevFrame = _frameIndex;
        }
        if (_lk is not null)
        {
            TrackLocally(frame, map, oldRows);
        }
        var t5 = Stopwatch.GetTimestamp();
        Publish(map, matched);
        var t6 = Stopwatch.GetTimestamp();
        LastTimings = new StageTimings(Ms(t1 - t0), Ms(t2 - t1), Ms(t3 - t2), Ms(t4 - t3), Ms(t5 - t4), Ms(t6 - t5), Ms(t6 - t0));
        _frameIndex++;
        return result;
    }

    /// <summary>
    /// TapirLk: Lucas-Kanade from the previous frame to this one for the rows that existed before this frame, starting
    /// from each point's previous published position. A change of frame size restarts the local tracker.
    /// </summary>
    private void TrackLocally(RgbImage frame, CoordinateMapping map, int oldRows)
    {
        _lkOk.AsSpan(0, _rows).Clear();
        if (!_lk!.HasPreviousFrame || frame.Width != _lkWidth || frame.Height != _lkHeight)
        {
            _lk.SetPreviousFrame(frame);
            (_lkWidth, _lkHeight) = (frame.Width, frame.Height);
            return;
        }
        for (var r = 0; r < oldRows; r++)
        {
            var (sx, sy) = map.ToSource(_chain[2 * r], _chain[2 * r + 1]);
            // OpenCV's pixel centres are at integer coordinates, ours (raster) at +0.5.
            _lkFrom[r] = new Point2f(sx - 0.5f, sy - 0.5f);
        }
        _lk.Track(frame, _lkFrom.AsSpan(0, oldRows), _lkTo.AsSpan(0, oldRows), _lkOk.AsSpan(0, oldRows));
    }

    /// <summary>
    /// Test hook: replaces a tracked point's GMRW chain position (model px) that the next frame matches from, so that a
    /// parity test can compare one GMRW step at a time with a reference instead of a free-running chain.
    /// </summary>
    internal void OverrideChainPosition(int id, float x, float y)
    {
        var row = Array.IndexOf(_ids, id, 0, _rows);
        if (row < 0)
        {
            throw new ArgumentException($"Point {id} is not tracked yet.", nameof(id));
        }
        _chain[2 * row] = x;
        _chain[2 * row + 1] = y;
    }

    /// <summary>Releases the tensors (the model and its sessions belong to the caller).</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        _lk?.Dispose();
        DisposeRowValues();
        _encoderBinding?.Dispose();
        foreach (var binding in _gmrwEncoderBinding)
        {
            binding?.Dispose();
        }
        _frameValue.Dispose();
        _lowresValue?.Dispose();
        _hiresValue?.Dispose();
        foreach (var value in _featValue)
        {
            value?.Dispose();
        }
    }

    /// <summary>Per-row estimate from the method's rule, mapped to source px; updates each point's chain position.</summary>
    private void Publish(CoordinateMapping map, bool matched)
    {
        var points = _result.PointBuffer;
        var diagnostics = _result.DiagnosticBuffer;
        var thr = _model.FbThresholdPx;
        for (var r = 0; r < _rows; r++)
        {
            var isNew = _isNew[r];
            float tx = float.NaN, ty = float.NaN, occL = float.NaN, expL = float.NaN;
            float gx = float.NaN, gy = float.NaN, fb = float.NaN;
            if (_useTapir)
            {
                tx = _position[2 * r];
                ty = _position[2 * r + 1];
                occL = _occLogit[r];
                expL = _expdLogit[r];
            }
            if (_useGmrw)
            {
                if (isNew || !matched)
                {
                    gx = _query[2 * r];
                    gy = _query[2 * r + 1];
                    fb = 0f;
                }
                else
                {
                    gx = _gForward[2 * r];
                    gy = _gForward[2 * r + 1];
                    fb = _gFb[r];
                }
            }
            float x, y, occ, unc;
            bool visible;
            switch (Method)
            {
                case TrackingMethod.Tapir:
                    x = tx;
                    y = ty;
                    occ = Fusion.Sigmoid(occL);
                    unc = Fusion.Sigmoid(expL);
                    visible = (1f - occ) * (1f - unc) > 0.5f;
                    break;
                case TrackingMethod.Gmrw:
                    x = gx;
                    y = gy;
                    visible = Fusion.GmrwConsistent(gx, gy, fb, thr, _w, _h);
                    occ = unc = Fusion.GmrwOcclusion(gx, gy, fb, thr, _w, _h);
                    break;
                case TrackingMethod.TapirLk:
                    occ = Fusion.Sigmoid(occL);
                    unc = Fusion.Sigmoid(expL);
                    if (isNew)
                    {
                        (x, y, visible) = (_query[2 * r], _query[2 * r + 1], true); // LK starts from the exact query
                    }
                    else
                    {
                        var lkOk = _lkOk[r];
                        var (lx, ly) = lkOk ? map.ToModel(_lkTo[r].X + 0.5f, _lkTo[r].Y + 0.5f) : (float.NaN, float.NaN);
                        Fusion.FuseLocal(tx, ty, occL, expL, lx, ly, lkOk, _chain[2 * r], _chain[2 * r + 1], ref _farFrames[r], out x, out y, out visible);
                    }
                    break;
                default:
                    Fusion.Fuse(tx, ty, occL, expL, gx, gy, fb, thr, _w, _h, out x, out y, out visible);
                    occ = Fusion.Sigmoid(occL);
                    unc = Fusion.Sigmoid(expL);
                    break;
            }
            _chain[2 * r] = x;
            _chain[2 * r + 1] = y;
            _isNew[r] = false;
            var (sx, sy) = map.ToSource(x, y);
            points[r] = new PointEstimate(_ids[r], sx, sy, visible, occ, unc);
            diagnostics[r] = new PointDiagnostics(_ids[r], tx, ty, occL, expL, gx, gy, fb, isNew);
        }
    }

    /// <summary>Query features of rows [first, first + count) straight into their rows; zeroes their state rows.</summary>
    private void RunQuery(int first, int count)
    {
        using var points = Slice(_query, 2 * first, count, 2);
        using var lo = Slice(_queryLo, first * _c, count, _c);
        using var hi = Slice(_queryHi, first * _c2, count, _c2);
        _queryIn[2] = points;
        _queryOut[0] = lo;
        _queryOut[1] = hi;
        try
        {
            _model.Query!.Run(_model.RunOptions, TrackerModel.QueryInputs, _queryIn, TrackerModel.QueryOutputs, _queryOut);
        }
        finally
        {
            _queryIn[2] = _queryOut[0] = _queryOut[1] = null!;
        }
        _state[_stateParity].AsSpan(first * _s, count * _s).Clear();
    }

    /// <summary>Grows every per-row buffer to hold <paramref name="rows"/> rows, keeping the active rows.</summary>
    private void EnsureCapacity(int rows)
    {
        if (rows <= _capacity)
        {
            return;
        }
        var cap = Math.Max(rows, Math.Max(InitialCapacity, _capacity * 2));
        DisposeRowValues();
        _ids = Grow(_ids, cap, _rows);
        _isNew = Grow(_isNew, cap, _rows);
        if (_lk is not null)
        {
            _lkFrom = new Point2f[cap];
            _lkTo = new Point2f[cap];
            _lkOk = new bool[cap];
            _farFrames = Grow(_farFrames, cap, _rows);
        }
        _query = Grow(_query, cap * 2, _rows * 2);
        _chain = Grow(_chain, cap * 2, _rows * 2);
        if (_useTapir)
        {
            _queryLo = Grow(_queryLo, cap * _c, _rows * _c);
            _queryHi = Grow(_queryHi, cap * _c2, _rows * _c2);
            _state[_stateParity] = Grow(_state[_stateParity], checked(cap * _s), _rows * _s);
            _state[1 - _stateParity] = GC.AllocateArray<float>(checked(cap * _s), pinned: true);
            _position = GC.AllocateArray<float>(cap * 2, pinned: true);
            _occLogit = GC.AllocateArray<float>(cap, pinned: true);
            _expdLogit = GC.AllocateArray<float>(cap, pinned: true);
        }
        if (_useGmrw)
        {
            _gPoints = GC.AllocateArray<float>(cap * 2, pinned: true);
            _gForward = GC.AllocateArray<float>(cap * 2, pinned: true);
            _gBackward = GC.AllocateArray<float>(cap * 2, pinned: true);
            _gFb = GC.AllocateArray<float>(cap, pinned: true);
        }
        _capacity = cap;
    }

    private static T[] Grow<T>(T[] old, int length, int keep) where T : unmanaged
    {
        var a = GC.AllocateArray<T>(length, pinned: true);
        Array.Copy(old, a, Math.Min(keep, old.Length));
        return a;
    }

    /// <summary>Recreates the per-point OrtValues for the current row count (views of the first N rows) and binds them.</summary>
    private void RebuildRowValues()
    {
        DisposeRowValues();
        var n = _rows;
        if (_useTapir)
        {
            _qLoV = Slice(_queryLo, 0, n, _c);
            _qHiV = Slice(_queryHi, 0, n, _c2);
            _state0V = Slice(_state[0], 0, n, _s);
            _state1V = Slice(_state[1], 0, n, _s);
            _posV = Slice(_position, 0, n, 2);
            _occV = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, new Memory<float>(_occLogit, 0, n), [n]);
            _expdV = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, new Memory<float>(_expdLogit, 0, n), [n]);
            for (var p = 0; p < 2; p++)
            {
                var binding = _stepBinding[p] = _model.Step!.CreateIoBinding();
                binding.BindInput("lowres", _lowresValue!);
                binding.BindInput("hires", _hiresValue!);
                binding.BindInput("query_lowres", _qLoV);
                binding.BindInput("query_hires", _qHiV);
                binding.BindInput("state", p == 0 ? _state0V : _state1V);
                binding.BindOutput("position", _posV);
                binding.BindOutput("occlusion_logit", _occV);
                binding.BindOutput("expected_dist_logit", _expdV);
                binding.BindOutput("new_state", p == 0 ? _state1V : _state0V);
            }
        }
        if (_useGmrw)
        {
            _gPtsV = Slice(_gPoints, 0, n, 2);
            _gFwdV = Slice(_gForward, 0, n, 2);
            _gBwdV = Slice(_gBackward, 0, n, 2);
            _gFbV = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, new Memory<float>(_gFb, 0, n), [n]);
            for (var p = 0; p < 2; p++)
            {
                var binding = _matchBinding[p] = _model.GmrwMatch!.CreateIoBinding();
                binding.BindInput("prev_features", _featValue[1 - p]!);
                binding.BindInput("new_features", _featValue[p]!);
                binding.BindInput("points", _gPtsV);
                binding.BindOutput("forward", _gFwdV);
                binding.BindOutput("backward", _gBwdV);
                binding.BindOutput("fb_error", _gFbV);
            }
        }
        _valueRows = n;
    }

    /// <summary>A [rows, width] tensor over <paramref name="buffer"/> from float <paramref name="offset"/> on (pinned, not copied).</summary>
    private static OrtValue Slice(float[] buffer, int offset, int rows, int width) =>
        OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, new Memory<float>(buffer, offset, rows * width), [rows, width]);

    private void DisposeRowValues()
    {
        // Bindings first: they refer to the values.
        foreach (var binding in new[] { _stepBinding[0], _stepBinding[1], _matchBinding[0], _matchBinding[1] })
        {
            binding?.Dispose();
        }
        _stepBinding[0] = _stepBinding[1] = _matchBinding[0] = _matchBinding[1] = null;
        foreach (var v in new[] { _qLoV, _qHiV, _state0V, _state1V, _posV, _occV, _expdV, _gPtsV, _gFwdV, _gBwdV, _gFbV })
        {
            v?.Dispose();
        }
        _qLoV = _qHiV = _state0V = _state1V = _posV = _occV = _expdV = _gPtsV = _gFwdV = _gBwdV = _gFbV = null;
        _valueRows = -1;
    }

    private static int Count(IReadOnlyList<long> shape)
    {
        long n = 1;
        foreach (var d in shape)
        {
            n *= d;
        }
        return checked((int)n);
    }

    private static double Ms(long ticks) => ticks * 1000.0 / Stopwatch.Frequency;
}
