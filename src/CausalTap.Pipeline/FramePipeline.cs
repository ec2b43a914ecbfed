using CausalTap.Imaging;
using CausalTap.Protocol.V1;
using CausalTap.Tracking;
using ImagingFormat = CausalTap.Imaging.PixelFormat;

namespace CausalTap.Pipeline;

/// <summary>When and where a frame came from: the fields of its TrackUpdate that the tracker does not compute.</summary>
/// <param name="SessionId">the session the update belongs to.</param>
/// <param name="Sequence">the camera's frame counter, echoed.</param>
/// <param name="CaptureTimeNs">capture time as the camera stamped it (0 = none: the receive time stands in).</param>
/// <param name="ReceiveTimeNs">when the server received the frame.</param>
public readonly record struct FrameStamp(string SessionId, ulong Sequence, long CaptureTimeNs, long ReceiveTimeNs);

/// <summary>
/// The one path from a wire <see cref="Frame"/> to its <see cref="TrackUpdate"/>, shared by live sessions and replay:
/// <see cref="Decode"/> (JPEG/PNG/raw into a reused RGB image) then <see cref="Track"/> (the tracker, then the
/// update with one <see cref="PointState"/> per live point in ascending id order). Owns its decoder and image; one
/// instance per stream, not thread-safe. The two stages are separate calls so a live session can decode outside its
/// engine lock and track inside it.
/// </summary>
public sealed class FramePipeline : IDisposable
{
    private readonly FrameDecoder _decoder = new();
    private readonly List<PointEstimate> _points = [];

    /// <summary>The last decoded frame (its buffer is reused by the next <see cref="Decode"/>).</summary>
    public RgbImage Image { get; } = new();

    /// <summary>
    /// Decodes <paramref name="frame"/> into <see cref="Image"/>. <paramref name="format"/> and the raw layout come from
    /// the caller's ingest checks when it made them; otherwise they are read from the frame itself.
    /// </summary>
    /// <exception cref="ImageDecodeException">corrupt or truncated data, or a bad raw layout.</exception>
    /// <exception cref="InvalidDataException">the frame carries no image.</exception>
    public RgbImage Decode(Frame frame, ImagingFormat format = ImagingFormat.Unspecified)
    {
        ArgumentNullException.ThrowIfNull(frame);
        switch (frame.ImageCase)
        {
            case Frame.ImageOneofCase.Encoded:
                _decoder.Decode(frame.Encoded.Data.Span, format == ImagingFormat.Unspecified ? ImagingFormat.Encoded : format, Image);
                break;
            case Frame.ImageOneofCase.Raw:
                RawImage raw = frame.Raw;
                _decoder.Decode(raw.Data.Span, format == ImagingFormat.Unspecified ? RawFormat(raw.PixelFormat) : format, Image,
                    checked((int)raw.Width), checked((int)raw.Height), checked((int)raw.Stride));
                break;
            default:
                throw new InvalidDataException("the frame carries no image");
        }
        return Image;
    }

    /// <summary>The imaging format of a wire raw pixel format (Unspecified for one the decoder rejects).</summary>
    public static ImagingFormat RawFormat(Protocol.V1.PixelFormat format) => format switch
    {
        Protocol.V1.PixelFormat.Rgb8 => ImagingFormat.Rgb8,
        Protocol.V1.PixelFormat.Bgr8 => ImagingFormat.Bgr8,
        Protocol.V1.PixelFormat.Gray8 => ImagingFormat.Gray8,
        _ => ImagingFormat.Unspecified,
    };

    /// <summary>
    /// Tracks the decoded <see cref="Image"/> with <paramref name="tracker"/> and returns its update: frame index (the
    /// tracker's count before this frame), times from <paramref name="stamp"/>, frame size, and the points, their ids
    /// mapped through <paramref name="recordedId"/> when given (replay keeps the recorded ids). The caller adds what
    /// only it knows (drop and reject counts, processing and publish times).
    /// </summary>
    public TrackUpdate Track(IFrameTracker tracker, FrameStamp stamp, Func<int, uint>? recordedId = null)
    {
        ArgumentNullException.ThrowIfNull(tracker);
        long frameIndex = tracker.FrameCount;
        tracker.Track(Image, _points);
        var update = new TrackUpdate
        {
            SessionId = stamp.SessionId,
            FrameIndex = frameIndex,
            Sequence = stamp.Sequence,
            CaptureTimeNs = stamp.CaptureTimeNs != 0 ? stamp.CaptureTimeNs : stamp.ReceiveTimeNs,
            ReceiveTimeNs = stamp.ReceiveTimeNs,
            FrameWidth = (uint)Image.Width,
            FrameHeight = (uint)Image.Height,
        };
        foreach (PointEstimate p in _points)
        {
            update.Points.Add(new PointState
            {
                Id = recordedId?.Invoke(p.Id) ?? (uint)p.Id,
                X = p.X,
                Y = p.Y,
                Visible = p.Visible,
                OcclusionProbability = p.OcclusionProbability,
                Uncertainty = p.Uncertainty,
            });
        }
        // Mapped ids may come out of order; the contract lists points by ascending id.
        if (recordedId is not null && !IsSorted(update)) SortById(update);
        return update;
    }

    private static bool IsSorted(TrackUpdate update)
    {
        for (int i = 1; i < update.Points.Count; i++)
        {
            if (update.Points[i - 1].Id > update.Points[i].Id) return false;
        }
        return true;
    }

    private static void SortById(TrackUpdate update)
    {
        PointState[] sorted = [.. update.Points.OrderBy(p => p.Id)];
        update.Points.Clear();
        update.Points.Add(sorted);
    }

    public void Dispose()
    {
        _decoder.Dispose();
        Image.Dispose();
    }
}
