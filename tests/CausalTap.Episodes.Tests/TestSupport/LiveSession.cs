using CausalTap.Imaging;
using CausalTap.Protocol.V1;
using CausalTap.Tracking;
using Google.Protobuf;
using TrackingMethod = CausalTap.Tracking.TrackingMethod;

namespace CausalTap.Episodes.Tests.TestSupport;

/// <summary>A point command of a scripted session: applied to the tracker just before frame <c>AtFrame</c>.</summary>
/// <param name="AtFrame">Frame index the command takes effect at.</param>
/// <param name="Add">Points to add (source pixels), or null.</param>
/// <param name="Remove">Ids to remove, or null.</param>
/// <param name="RecordAfterFrame">Write the command to the episode after the frame and its update (the race a live
/// server has when a command is handled while the frame is being processed) instead of before them.</param>
public sealed record ScriptedCommand(int AtFrame, (float X, float Y)[]? Add = null, uint[]? Remove = null, bool RecordAfterFrame = false);

/// <summary>
/// Does what the server does for a recorded session, without the server: per frame, apply due commands to a
/// <see cref="StreamTracker"/> and record them, track the frame, record it together with its update.
/// Returns the live updates.
/// </summary>
public static class LiveSession
{
    public const long StartNs = 1_763_000_000_000_000_000;
    public const long FrameIntervalNs = 33_333_333;

    public static EpisodeMetadata Metadata(string model = "causaltap-default", string method = "tapir") =>
        new("session-1", "wrist_left", model, method, "0.1.0", EpisodeFixture.Width, EpisodeFixture.Height);

    /// <summary>Encoded frames as a camera sends them: capture times 33.3 ms apart, sequence 1000 + k.</summary>
    public static List<Frame> JpegFrames(IReadOnlyList<byte[]> jpegs) => jpegs.Select((bytes, k) => new Frame
    {
        SessionId = "session-1",
        CaptureTimeNs = StartNs + k * FrameIntervalNs,
        Sequence = 1000 + (ulong)k,
        Encoded = new EncodedImage { Data = ByteString.CopyFrom(bytes), Format = "jpeg" },
    }).ToList();

    public static List<TrackUpdate> Record(string path, IReadOnlyList<Frame> frames, TrackerModel model, TrackingMethod method,
                                           IReadOnlyList<ScriptedCommand> script, EpisodeMetadata? metadata = null)
    {
        using var recorder = EpisodeRecorder.Create(path, metadata ?? Metadata());
        using var tracker = new StreamTracker(model, method);
        using var decoder = new FrameDecoder();
        using var image = new RgbImage();
        var updates = new List<TrackUpdate>();
        for (var k = 0; k < frames.Count; k++)
        {
            var frame = frames[k];
            var receiveNs = frame.CaptureTimeNs + 2_000_000;
            var late = new List<Action>();
            foreach (var command in script.Where(c => c.AtFrame == k))
            {
                Action write;
                if (command.Add is { } add)
                {
                    var request = new AddPointsRequest { SessionId = "session-1" };
                    var response = new AddPointsResponse { QueryFrameIndex = tracker.FrameCount };
                    foreach (var (x, y) in add)
                    {
                        request.Points.Add(new PointQuery { X = x, Y = y });
                        response.PointIds.Add((uint)tracker.AddPoint(x, y));
                    }
                    var queryFrame = tracker.FrameCount;
                    write = () => recorder.WritePointsAdded(queryFrame, request, response, receiveNs - 1_000_000);
                }
                else
                {
                    var request = new RemovePointsRequest { SessionId = "session-1" };
                    var response = new RemovePointsResponse();
                    foreach (var id in command.Remove!)
                    {
                        request.PointIds.Add(id);
                        (tracker.RemovePoint((int)id) ? response.Removed : response.Unknown).Add(id);
                    }
                    var frameIndex = tracker.FrameCount;
                    write = () => recorder.WritePointsRemoved(frameIndex, request, response, receiveNs - 1_000_000);
                }
                if (command.RecordAfterFrame)
                {
                    late.Add(write);
                }
                else
                {
                    write();
                }
            }

            if (frame.ImageCase == Frame.ImageOneofCase.Encoded)
            {
                decoder.Decode(frame.Encoded.Data.Span, Imaging.PixelFormat.Encoded, image);
            }
            else
            {
                var raw = frame.Raw;
                var format = raw.PixelFormat switch
                {
                    Protocol.V1.PixelFormat.Bgr8 => Imaging.PixelFormat.Bgr8,
                    Protocol.V1.PixelFormat.Gray8 => Imaging.PixelFormat.Gray8,
                    _ => Imaging.PixelFormat.Rgb8,
                };
                decoder.Decode(raw.Data.Span, format, image, (int)raw.Width, (int)raw.Height, (int)raw.Stride);
            }
            var result = tracker.Track(image);
            var update = new TrackUpdate
            {
                SessionId = "session-1",
                FrameIndex = result.FrameIndex,
                Sequence = frame.Sequence,
                CaptureTimeNs = frame.CaptureTimeNs,
                ReceiveTimeNs = receiveNs,
                PublishTimeNs = receiveNs + 5_000_000,
                FrameWidth = (uint)result.SourceWidth,
                FrameHeight = (uint)result.SourceHeight,
                ProcessingMs = 5,
            };
            foreach (var p in result.Points)
            {
                update.Points.Add(new PointState { Id = (uint)p.Id, X = p.X, Y = p.Y, Visible = p.Visible, OcclusionProbability = p.OcclusionProbability, Uncertainty = p.Uncertainty });
            }
            recorder.WriteTrackedFrame(update.FrameIndex, frame, receiveNs, update);
            late.ForEach(a => a());
            updates.Add(update);
        }
        return updates;
    }

    /// <summary>The session most tests use: 3 points at frame 0, one more at 3 (recorded late), id 2 removed at 5
    /// (recorded late), an unknown id "removed" at 6.</summary>
    public static readonly ScriptedCommand[] Script =
    [
        new(0, Add: [(40.5f, 30.25f), (80f, 60f), (120f, 90.5f)]),
        new(3, Add: [(60f, 40f)], RecordAfterFrame: true),
        new(5, Remove: [2], RecordAfterFrame: true),
        new(6, Remove: [99]),
    ];
}
