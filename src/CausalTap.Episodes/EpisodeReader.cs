using CausalTap.Protocol.V1;
using Google.Protobuf;
using Fox = CausalTap.Protocol.Foxglove;

namespace CausalTap.Episodes;

/// <summary>One recorded event of an episode, in file order.</summary>
/// <param name="LogTimeNs">The MCAP log time, nanoseconds since the epoch.</param>
public abstract record EpisodeEvent(long LogTimeNs);

/// <summary>A frame the tracker processed (topic /camera/image), as the wire <see cref="Protocol.V1.Frame"/> it came in as.</summary>
/// <param name="FrameIndex">The session's frame index (the MCAP message sequence).</param>
/// <param name="ReceiveTimeNs">When the server received it (the log time).</param>
/// <param name="CaptureTimeNs">The capture time (the receive time when the camera sent none).</param>
/// <param name="Frame">The image: encoded bytes or raw pixels; <c>CaptureTimeNs</c> set, <c>SessionId</c> and <c>Sequence</c> empty.</param>
public sealed record EpisodeFrame(long FrameIndex, long ReceiveTimeNs, long CaptureTimeNs, Frame Frame) : EpisodeEvent(ReceiveTimeNs);

/// <summary>A point command as the session applied it (topic /tracker/commands).</summary>
/// <param name="Command">The command.</param>
/// <param name="LogTimeNs">The MCAP log time.</param>
public sealed record EpisodeCommand(PointCommand Command, long LogTimeNs) : EpisodeEvent(LogTimeNs);

/// <summary>The update the session published for one frame (topic /tracker/updates).</summary>
/// <param name="Update">The update.</param>
/// <param name="LogTimeNs">The MCAP log time (its publish time).</param>
public sealed record EpisodeUpdate(TrackUpdate Update, long LogTimeNs) : EpisodeEvent(LogTimeNs);

/// <summary>
/// Reads a CausalTap episode back as typed events in file order (frames, commands, updates; annotations and unknown
/// topics are skipped). Works on a file cut short by a crash: events end with the last complete chunk and
/// <see cref="IsTruncated"/> is then true. Not thread-safe.
/// </summary>
public sealed class EpisodeReader : IDisposable
{
    private readonly FileStream _stream;

    private EpisodeReader(string path, FileStream stream, EpisodeMetadata? metadata)
    {
        Path = path;
        _stream = stream;
        Metadata = metadata;
    }

    /// <summary>
    /// Opens an episode and reads its metadata (the record precedes every chunk, so this reads at most one chunk).
    /// <see cref="FileNotFoundException"/>/<see cref="IOException"/> when it cannot be read,
    /// <see cref="InvalidDataException"/> when it is not an MCAP file.
    /// </summary>
    public static EpisodeReader Open(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1 << 16);
        try
        {
            var mcap = new McapReader(stream);
            using (var e = mcap.ReadMessages().GetEnumerator())
            {
                e.MoveNext(); // stops at the first message (or the end): the metadata record is before it
            }
            var record = mcap.Metadata.FirstOrDefault(m => m.Name == EpisodeMetadata.RecordName);
            return new EpisodeReader(path, stream, record is null ? null : EpisodeMetadata.FromMap(record.Values));
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>The episode file.</summary>
    public string Path { get; }

    /// <summary>The "causaltap.episode" metadata, or null when the file has none.</summary>
    public EpisodeMetadata? Metadata { get; }

    /// <summary>After <see cref="ReadEvents"/> ran to the end: true when the file ended before its footer (a crash).</summary>
    public bool IsTruncated { get; private set; }

    /// <summary>After <see cref="ReadEvents"/> ran to the end: complete chunks read.</summary>
    public int ChunkCount { get; private set; }

    /// <summary>
    /// Reads the whole file from the start, yielding its events in file order. A message that does not decode as
    /// its schema, or a raw image in an encoding other than rgb8/bgr8/mono8, is <see cref="InvalidDataException"/>.
    /// </summary>
    public IEnumerable<EpisodeEvent> ReadEvents()
    {
        _stream.Position = 0;
        var mcap = new McapReader(_stream);
        foreach (var message in mcap.ReadMessages())
        {
            if (!mcap.Channels.TryGetValue(message.ChannelId, out var channel) || channel.MessageEncoding != EpisodeSchemas.Encoding ||
                !mcap.Schemas.TryGetValue(channel.SchemaId, out var schema))
            {
                continue;
            }
            var ev = Decode(channel.Topic, schema.Name, message);
            if (ev is not null)
            {
                yield return ev;
            }
        }
        IsTruncated = mcap.IsTruncated;
        ChunkCount = mcap.ChunkCount;
    }

    /// <summary>Closes the file.</summary>
    public void Dispose() => _stream.Dispose();

    private static EpisodeEvent? Decode(string topic, string schemaName, McapMessage message)
    {
        var logTime = (long)message.LogTime;
        try
        {
            switch (topic)
            {
                case EpisodeSchemas.ImageTopic when schemaName == Fox.CompressedImage.Descriptor.FullName:
                {
                    var image = Fox.CompressedImage.Parser.ParseFrom(message.Data.Span);
                    var capture = ToNs(image.Timestamp, (long)message.PublishTime);
                    var frame = new Frame { CaptureTimeNs = capture, Encoded = new EncodedImage { Data = image.Data, Format = image.Format } };
                    return new EpisodeFrame(message.Sequence, logTime, capture, frame);
                }
                case EpisodeSchemas.ImageTopic when schemaName == Fox.RawImage.Descriptor.FullName:
                {
                    var image = Fox.RawImage.Parser.ParseFrom(message.Data.Span);
                    var capture = ToNs(image.Timestamp, (long)message.PublishTime);
                    var format = image.Encoding switch
                    {
                        "rgb8" => PixelFormat.Rgb8,
                        "bgr8" => PixelFormat.Bgr8,
                        "mono8" => PixelFormat.Gray8,
                        _ => throw new InvalidDataException(
                            $"frame {message.Sequence}: raw image encoding '{image.Encoding}' is not supported (rgb8, bgr8, mono8)"),
                    };
                    var raw = new RawImage { Width = image.Width, Height = image.Height, Stride = image.Step, PixelFormat = format, Data = image.Data };
                    return new EpisodeFrame(message.Sequence, logTime, capture, new Frame { CaptureTimeNs = capture, Raw = raw });
                }
                case EpisodeSchemas.CommandTopic when schemaName == PointCommand.Descriptor.FullName:
                    return new EpisodeCommand(PointCommand.Parser.ParseFrom(message.Data.Span), logTime);
                case EpisodeSchemas.UpdateTopic when schemaName == TrackUpdate.Descriptor.FullName:
                    return new EpisodeUpdate(TrackUpdate.Parser.ParseFrom(message.Data.Span), logTime);
                default:
                    return null;
            }
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new InvalidDataException($"episode message on {topic} (sequence {message.Sequence}) is not a valid {schemaName}: {e.Message}", e);
        }
    }

    private static long ToNs(Google.Protobuf.WellKnownTypes.Timestamp? timestamp, long fallback) =>
        timestamp is null ? fallback : timestamp.Seconds * 1_000_000_000L + timestamp.Nanos;
}
