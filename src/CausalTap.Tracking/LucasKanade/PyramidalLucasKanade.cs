using CausalTap.Imaging;
using OpenCvSharp;

namespace CausalTap.Tracking.LucasKanade;

/// <summary>
/// A short-range local tracker: OpenCV's pyramidal Lucas-Kanade (<c>Cv2.CalcOpticalFlowPyrLK</c>) from one frame
/// to the next, with a forward-backward check. A point passes when LK converged both ways and tracking the new
/// position back lands within <see cref="MaxForwardBackwardError"/> pixels of where it started; a point that fails
/// has drifted, left the image or been covered, and wants the global re-detection of the network.
/// <para>
/// The defaults are the baseline measured against the bundled model on the development split (21x21 window,
/// 3 pyramid levels). Keeps the previous frame's grey pyramid input, so each call converts one frame. One per
/// stream, not thread-safe.
/// </para>
/// </summary>
public sealed class PyramidalLucasKanade : IDisposable
{
    private readonly Mat _previousGray = new();
    private readonly Mat _nextGray = new();
    private readonly TermCriteria _criteria = new(CriteriaTypes.Count | CriteriaTypes.Eps, 30, 0.01);

    /// <summary>Side of the square search window at each pyramid level, in pixels (odd).</summary>
    public int WindowSize { get; init; } = 21;

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
        Cv2.CvtColor(next.AsMat(), _nextGray, ColorConversionCodes.RGB2GRAY);
        if (_previousGray.Size() != _nextGray.Size())
        {
            throw new ArgumentException($"frame size changed from {_previousGray.Width}x{_previousGray.Height} to {next.Width}x{next.Height}; call Reset", nameof(next));
        }
        if (from.Length > 0)
        {
            Point2f[] start = from.ToArray();
            Point2f[] forward = [];
            Point2f[] back = [];
            var window = new Size(WindowSize, WindowSize);
            Cv2.CalcOpticalFlowPyrLK(_previousGray, _nextGray, start, ref forward, out byte[] forwardOk, out _, window, PyramidLevels, _criteria);
            Cv2.CalcOpticalFlowPyrLK(_nextGray, _previousGray, forward, ref back, out byte[] backOk, out _, window, PyramidLevels, _criteria);
            for (var i = 0; i < start.Length; i++)
            {
                to[i] = forward[i];
                double dx = back[i].X - start[i].X, dy = back[i].Y - start[i].Y;
                tracked[i] = forwardOk[i] != 0 && backOk[i] != 0 && dx * dx + dy * dy <= MaxForwardBackwardError * MaxForwardBackwardError
                    && forward[i].X >= 0 && forward[i].Y >= 0 && forward[i].X <= next.Width - 1 && forward[i].Y <= next.Height - 1;
            }
        }
        _nextGray.CopyTo(_previousGray);
    }

    /// <summary>Frees the grey images.</summary>
    public void Dispose()
    {
        _previousGray.Dispose();
        _nextGray.Dispose();
    }
}
