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
/// </summary>
public sealed class PyramidalLucasKanade : IDisposable
{
    /// <summary>The previous and the new frame in grey; they swap after each call, so each frame is converted once.
    /// (OpenCV could also take prebuilt pyramids, but a Mat[] passed through OpenCvSharp's InputArray arrives empty.)</summary>
    private Mat _previousGray = new(), _nextGray = new();
    private readonly TermCriteria _criteria = new(CriteriaTypes.Count | CriteriaTypes.Eps, 30, 0.01);

    /// <summary>Point buffers (pinned) and the Mat headers over them, rebuilt when the number of points changes.</summary>
    private Point2f[] _start = [], _forward = [], _back = [];
    private byte[] _forwardOk = [], _backOk = [];
    private float[] _error = [];
    private Mat? _startMat, _forwardMat, _backMat, _forwardOkMat, _backOkMat, _errorMat;

    /// <summary>Side of the square search window at each pyramid level, in pixels (odd).</summary>
    public int WindowSize { get; init; } = 15;

    /// <summary>Pyramid levels above the full-resolution image (3: motions up to about 8x the window reach).</summary>
    public int PyramidLevels { get; init; } = 3;

    /// <summary>Largest distance, in pixels, between a point and its forward-then-backward track.</summary>
    public double MaxForwardBackwardError { get; init; } = 1.5;

    /// <summary>Whether a previous frame is held (the first <see cref="Track"/> after <see cref="Reset"/> has none).</summary>
    public bool HasPreviousFrame { get; private set; }

    /// <summary>Holds <paramref name="frame"/> as the frame the next <see cref="Track"/> starts from.</summary>
    public void SetPreviousFrame(RgbImage frame)
    {
        ArgumentNullException.ThrowIfNull(frame);
        Cv2.CvtColor(frame.AsMat(), _previousGray, ColorConversionCodes.RGB2GRAY);
        HasPreviousFrame = true;
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
        if (next.Width != _previousGray.Width || next.Height != _previousGray.Height)
        {
            throw new ArgumentException($"frame size changed from {_previousGray.Width}x{_previousGray.Height} to {next.Width}x{next.Height}; call Reset", nameof(next));
        }
        Cv2.CvtColor(next.AsMat(), _nextGray, ColorConversionCodes.RGB2GRAY);
        int n = from.Length;
        if (n > 0)
        {
            EnsurePointBuffers(n);
            from.CopyTo(_start);
            var window = new Size(WindowSize, WindowSize);
            // Mats over the pinned point buffers: OpenCV writes the results straight into them (same size, same type).
            Cv2.CalcOpticalFlowPyrLK(_previousGray, _nextGray, _startMat!, _forwardMat!, _forwardOkMat!, _errorMat!, window, PyramidLevels, _criteria);
            Cv2.CalcOpticalFlowPyrLK(_nextGray, _previousGray, _forwardMat!, _backMat!, _backOkMat!, _errorMat!, window, PyramidLevels, _criteria);
            double maxError2 = MaxForwardBackwardError * MaxForwardBackwardError;
            for (var i = 0; i < n; i++)
            {
                Point2f f = _forward[i];
                to[i] = f;
                double dx = _back[i].X - _start[i].X, dy = _back[i].Y - _start[i].Y;
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
        DisposePointMats();
    }
}
