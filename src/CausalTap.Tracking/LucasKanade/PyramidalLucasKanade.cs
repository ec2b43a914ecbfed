using System.Runtime.InteropServices;
using CausalTap.Imaging;
using OpenCvSharp;

namespace CausalTap.Tracking.LucasKanade;

/// <summary>
/// A short-range local tracker: OpenCV's pyramidal Lucas-Kanade (<c>Cv2.CalcOpticalFlowPyrLK</c>) from one frame
/// to the next, with a forward-backward check. A point passes when LK converged both ways and tracking the new
/// position back lands within <see cref="MaxForwardBackwardError"/> pixels of where it started; a point that fails
/// has drifted, left the image or been covered, and wants the global re-detection of the network.
/// <para>
/// Defaults: a 15x15 window, 3 pyramid levels, OpenCV's stopping rule (30 iterations or 0.01 px). Inside TapirLk
/// the 15-px window measured better and cheaper than OpenCV's default 21 on the development split (AJ 45.7 against
/// 44.4, before the two-frame confirmation; LK 4.4 against 5.7 ms for 256 points on 640x480). Keeps the previous
/// frame in grey, so each call converts one frame. One per stream, not thread-safe.
/// </para>
/// <para>
/// Small frames are tracked upscaled (bicubic) so that their short side is <see cref="MinShortSide"/> pixels (at most
/// <see cref="MaxScale"/> times): on a 256x256 frame the 3-level pyramid is otherwise only 32 px wide at the top, and OpenCV's integer Scharr gradients
/// are coarse. Measured (README, "Tracking methods": "Lucas-Kanade working size"): on 256-px clips upscaling to 512 raised
/// tapir-lk AJ by 4.7 on the development split and 1.1 on 24 synthetic validation clips; on 480-px synthetic clips
/// a further 2x gained under 1 AJ for 4x the pixels, so frames at or above 512 px are tracked as they are.
/// Points, windows aside, stay in the caller's pixels: the scale is applied and undone inside.
/// </para>
/// </summary>
public sealed class PyramidalLucasKanade : IDisposable
{
    /// <summary>The previous and the new frame in grey; they swap after each call, so each frame is converted once.
    /// (OpenCV could also take prebuilt pyramids, but a Mat[] passed through OpenCvSharp's InputArray arrives empty.)</summary>
    private Mat _previousGray = new(), _nextGray = new();
    private readonly Mat _grayFrameSize = new(); // grey at the frame's own size, before upscaling
    private int _frameWidth, _frameHeight;
    private float _scaleX = 1f, _scaleY = 1f; // working size / frame size per axis (the working size is rounded)
    private readonly TermCriteria _criteria = new(CriteriaTypes.Count | CriteriaTypes.Eps, 30, 0.01);

    /// <summary>Point buffers (pinned) and the Mat headers over them, rebuilt when the number of points changes.</summary>
    private Point2f[] _start = [], _forward = [], _back = [];
    private byte[] _forwardOk = [], _backOk = [];
    private float[] _error = [];
    private Mat? _startMat, _forwardMat, _backMat, _forwardOkMat, _backOkMat, _errorMat;

    /// <summary>Frames whose shorter side is below this many pixels are tracked upscaled to it (1 = never).</summary>
    public int MinShortSide { get; init; } = 512;

    /// <summary>Largest upscaling (measured at 2, 256 -> 512 px; a larger factor would shrink the window below the texture).</summary>
    public float MaxScale { get; init; } = 2f;

    /// <summary>Working scale of the current frame size (>= 1): the grey images are this much larger than the frame.</summary>
    public float Scale { get; private set; } = 1f;

    /// <summary>Side of the square search window at each pyramid level, in working pixels (odd).</summary>
    public int WindowSize { get; init; } = 15;

    /// <summary>Pyramid levels above the full-resolution image (3: motions up to about 8x the window reach).</summary>
    public int PyramidLevels { get; init; } = 3;

    /// <summary>Largest distance, in frame pixels, between a point and its forward-then-backward track.</summary>
    public double MaxForwardBackwardError { get; init; } = 1.5;

    /// <summary>Whether a previous frame is held (the first <see cref="Track"/> after <see cref="Reset"/> has none).</summary>
    public bool HasPreviousFrame { get; private set; }

    /// <summary>Holds <paramref name="frame"/> as the frame the next <see cref="Track"/> starts from.</summary>
    public void SetPreviousFrame(RgbImage frame)
    {
        ArgumentNullException.ThrowIfNull(frame);
        int shortSide = Math.Min(frame.Width, frame.Height);
        Scale = shortSide > 0 && shortSide < MinShortSide ? MathF.Min(MaxScale, MinShortSide / (float)shortSide) : 1f;
        (_frameWidth, _frameHeight) = (frame.Width, frame.Height);
        _scaleX = MathF.Round(frame.Width * Scale) / frame.Width;
        _scaleY = MathF.Round(frame.Height * Scale) / frame.Height;
        ToGray(frame, _previousGray);
        HasPreviousFrame = true;
    }

    /// <summary>The frame in grey at the working scale.</summary>
    private void ToGray(RgbImage frame, Mat gray)
    {
        if (Scale == 1f)
        {
            Cv2.CvtColor(frame.AsMat(), gray, ColorConversionCodes.RGB2GRAY);
            return;
        }
        Cv2.CvtColor(frame.AsMat(), _grayFrameSize, ColorConversionCodes.RGB2GRAY);
        var size = new Size((int)MathF.Round(frame.Width * _scaleX), (int)MathF.Round(frame.Height * _scaleY));
        Cv2.Resize(_grayFrameSize, gray, size, 0, 0, InterpolationFlags.Cubic);
    }

    /// <summary>Forgets the previous frame (a new stream, or a jump in time).</summary>
    public void Reset() => HasPreviousFrame = false;

    /// <summary>
    /// Tracks <paramref name="from"/> (pixel positions in the previous frame) into <paramref name="next"/>, writing
    /// the new positions to <paramref name="to"/> and whether each passed the forward-backward check to
    /// <paramref name="tracked"/>; <paramref name="next"/> then becomes the previous frame. A point that fails keeps
    /// LK's estimate in <paramref name="to"/>, which the caller should not trust.
    /// </summary>
    /// <exception cref="InvalidOperationException">no previous frame (call <see cref="SetPreviousFrame"/> first).</exception>
    public void Track(RgbImage next, ReadOnlySpan<Point2f> from, Span<Point2f> to, Span<bool> tracked)
    {
        ArgumentNullException.ThrowIfNull(next);
        if (!HasPreviousFrame) throw new InvalidOperationException("no previous frame: call SetPreviousFrame first");
        if (to.Length < from.Length || tracked.Length < from.Length)
        {
            throw new ArgumentException($"{from.Length} points need {from.Length} outputs (to: {to.Length}, tracked: {tracked.Length})");
        }
        if (next.Width != _frameWidth || next.Height != _frameHeight)
        {
            throw new ArgumentException($"frame size changed from {_frameWidth}x{_frameHeight} to {next.Width}x{next.Height}; call Reset", nameof(next));
        }
        ToGray(next, _nextGray);
        int n = from.Length;
        float sx = _scaleX, sy = _scaleY;
        if (n > 0)
        {
            EnsurePointBuffers(n);
            // OpenCV puts pixel centres at integers: scaling about the image corner is p' = s (p + 0.5) - 0.5.
            for (var i = 0; i < n; i++) _start[i] = new Point2f(sx * (from[i].X + 0.5f) - 0.5f, sy * (from[i].Y + 0.5f) - 0.5f);
            var window = new Size(WindowSize, WindowSize);
            // Mats over the pinned point buffers: OpenCV writes the results straight into them (same size, same type).
            Cv2.CalcOpticalFlowPyrLK(_previousGray, _nextGray, _startMat!, _forwardMat!, _forwardOkMat!, _errorMat!, window, PyramidLevels, _criteria);
            Cv2.CalcOpticalFlowPyrLK(_nextGray, _previousGray, _forwardMat!, _backMat!, _backOkMat!, _errorMat!, window, PyramidLevels, _criteria);
            double maxError2 = MaxForwardBackwardError * MaxForwardBackwardError;
            for (var i = 0; i < n; i++)
            {
                var f = new Point2f((_forward[i].X + 0.5f) / sx - 0.5f, (_forward[i].Y + 0.5f) / sy - 0.5f);
                to[i] = f;
                double dx = (_back[i].X - _start[i].X) / sx, dy = (_back[i].Y - _start[i].Y) / sy; // frame px
                tracked[i] = _forwardOk[i] != 0 && _backOk[i] != 0 && dx * dx + dy * dy <= maxError2
                    && f.X >= 0 && f.Y >= 0 && f.X <= next.Width - 1 && f.Y <= next.Height - 1;
            }
        }
        (_previousGray, _nextGray) = (_nextGray, _previousGray);
    }

    private void EnsurePointBuffers(int n)
    {
        if (_start.Length == n) return;
        DisposePointMats();
        _start = GC.AllocateArray<Point2f>(n, pinned: true);
        _forward = GC.AllocateArray<Point2f>(n, pinned: true);
        _back = GC.AllocateArray<Point2f>(n, pinned: true);
        _forwardOk = GC.AllocateArray<byte>(n, pinned: true);
        _backOk = GC.AllocateArray<byte>(n, pinned: true);
        _error = GC.AllocateArray<float>(n, pinned: true);
        _startMat = Over(_start, MatType.CV_32FC2);
        _forwardMat = Over(_forward, MatType.CV_32FC2);
        _backMat = Over(_back, MatType.CV_32FC2);
        _forwardOkMat = Over(_forwardOk, MatType.CV_8UC1);
        _backOkMat = Over(_backOk, MatType.CV_8UC1);
        _errorMat = Over(_error, MatType.CV_32FC1);
    }

    /// <summary>An n x 1 Mat over a pinned array (valid while the array lives: it is a field of this object).</summary>
    private static Mat Over<T>(T[] pinned, MatType type) where T : unmanaged =>
        Mat.FromPixelData(pinned.Length, 1, type, Marshal.UnsafeAddrOfPinnedArrayElement(pinned, 0));

    private void DisposePointMats()
    {
        _startMat?.Dispose();
        _forwardMat?.Dispose();
        _backMat?.Dispose();
        _forwardOkMat?.Dispose();
        _backOkMat?.Dispose();
        _errorMat?.Dispose();
    }

    /// <summary>Frees the grey images and the point buffers' headers.</summary>
    public void Dispose()
    {
        _previousGray.Dispose();
        _nextGray.Dispose();
        _grayFrameSize.Dispose();
        DisposePointMats();
    }
}
