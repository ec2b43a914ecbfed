using CausalTap.Imaging;
using CausalTap.Protocol.V1;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Google.Protobuf.WellKnownTypes;
using Fox = CausalTap.Protocol.Foxglove;

namespace CausalTap.Episodes;

/// <summary>
/// Records one tracking session as an MCAP episode that Foxglove opens as is (see README for the topics). Thread-safe:
/// one lock around the <see cref="McapWriter"/>, so the ingest path, command handlers and the publisher may call it
/// concurrently. Crash-tolerant: chunks close at 1 MiB or after 1 s of log time, and a timer closes a pending chunk
/// once a second when messages stop arriving; a killed process leaves a file readable up to its last chunk.
/// </summary>
public sealed class EpisodeRecorder : IDisposable
{
    /// <summary>How often a pending chunk is flushed when no message closes it (wall clock).</summary>
    public static readonly TimeSpan FlushInterval = TimeSpan.FromSeconds(1);

    private static readonly Fox.Color s_visible = new() { R = 0.1, G = 0.9, B = 0.2, A = 1 };
    private static readonly Fox.Color s_visibleFill = new() { R = 0.1, G = 0.9, B = 0.2, A = 0.35 };
    private static readonly Fox.Color s_occluded = new() { R = 0.95, G = 0.2, B = 0.15, A = 1 };
    private static readonly Fox.Color s_transparent = new() { R = 0, G = 0, B = 0, A = 0 };
    private static readonly Fox.Color s_labelBackground = new() { R = 0, G = 0, B = 0, A = 0.5 };
    private static readonly Fox.Color s_white = new() { R = 1, G = 1, B = 1, A = 1 };

    private readonly Lock _lock = new();
    private readonly McapWriter _writer;
    private readonly string _frameId;
    private readonly Timer _flushTimer;
    private readonly ushort _compressedSchema;
    private readonly ushort _rawSchema;
    private ushort? _compressedChannel;
    private ushort? _rawChannel;
    private readonly ushort _commandChannel;
    private readonly ushort _updateChannel;
    private readonly ushort _annotationChannel;
    private bool _disposed;

    private EpisodeRecorder(string path, McapWriter writer, EpisodeMetadata metadata)
    {
        Path = path;
        Metadata = metadata;
        _writer = writer;
        _frameId = metadata.CameraId ?? "";
        ushort Schema(MessageDescriptor d) => writer.RegisterSchema(d.FullName, EpisodeSchemas.Encoding, EpisodeSchemas.FileDescriptorSet(d));
        _compressedSchema = Schema(Fox.CompressedImage.Descriptor);
        _rawSchema = Schema(Fox.RawImage.Descriptor);
        _commandChannel = writer.RegisterChannel(Schema(PointCommand.Descriptor), EpisodeSchemas.CommandTopic, EpisodeSchemas.Encoding);
        _updateChannel = writer.RegisterChannel(Schema(TrackUpdate.Descriptor), EpisodeSchemas.UpdateTopic, EpisodeSchemas.Encoding);
        _annotationChannel = writer.RegisterChannel(Schema(Fox.ImageAnnotations.Descriptor), EpisodeSchemas.AnnotationTopic, EpisodeSchemas.Encoding);
        writer.WriteMetadata(EpisodeMetadata.RecordName, metadata.ToMap());
        _flushTimer = new Timer(_ => FlushPending(), null, FlushInterval, FlushInterval);
    }

    /// <summary>
    /// Creates (or overwrites) the episode file and writes its header and metadata. <see cref="IOException"/> (and
    /// <see cref="UnauthorizedAccessException"/>) when the file cannot be created.
    /// </summary>
    public static EpisodeRecorder Create(string path, EpisodeMetadata metadata) => Create(path, metadata, null);

    /// <summary>As <see cref="Create(string, EpisodeMetadata)"/> with explicit MCAP writer settings (chunk size, fsync).</summary>
    public static EpisodeRecorder Create(string path, EpisodeMetadata metadata, McapWriterOptions? options)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(metadata);
        var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read, 1 << 16);
        try
        {
            var writer = new McapWriter(stream, options ?? new McapWriterOptions());
            return new EpisodeRecorder(path, writer, metadata);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>The episode file.</summary>
    public string Path { get; }

    /// <summary>The metadata written at the start of the file.</summary>
    public EpisodeMetadata Metadata { get; }

    /// <summary>Messages written so far (all topics).</summary>
    public long MessageCount
    {
        get
        {
            lock (_lock)
            {
                return (long)_writer.MessageCount;
            }
        }
    }

    /// <summary>
    /// Records the frame the tracker processed as frame <paramref name="frameIndex"/> on /camera/image: an encoded
    /// frame as foxglove.CompressedImage, a raw one as foxglove.RawImage. The MCAP message sequence is the frame
    /// index; log time = <paramref name="receiveTimeNs"/>; publish time and the image timestamp = the capture time
    /// (the receive time when the camera sent none).
    /// </summary>
    public void WriteFrame(long frameIndex, Frame frame, long receiveTimeNs)
    {
        var (raw, message) = ImageMessage(frameIndex, frame, receiveTimeNs);
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _writer.WriteMessage(ImageChannel(raw), message.LogTime, message.PublishTime, message.Data.Span, message.Sequence);
        }
    }

    /// <summary>
    /// Records a processed frame together with its update and annotations (<see cref="WriteFrame"/> then
    /// <see cref="WriteUpdate"/>) in one chunk, so a crash never leaves a frame whose update (and with it the
    /// camera's sequence) is missing from the file.
    /// </summary>
    public void WriteTrackedFrame(long frameIndex, Frame frame, long receiveTimeNs, TrackUpdate update)
    {
        ArgumentNullException.ThrowIfNull(update);
        if (update.FrameIndex != frameIndex)
        {
            throw new ArgumentException($"The update is for frame {update.FrameIndex}, not frame {frameIndex}.", nameof(update));
        }
        var (raw, image) = ImageMessage(frameIndex, frame, receiveTimeNs);
        var (updateMessage, annotations) = UpdateMessages(update);
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _writer.WriteMessageGroup([image with { ChannelId = ImageChannel(raw) }, updateMessage, annotations]);
        }
    }

    /// <summary>The /camera/image message of a frame (its channel id is filled in under the lock: <see cref="ImageChannel"/>).</summary>
    private (bool Raw, McapOutgoingMessage Message) ImageMessage(long frameIndex, Frame frame, long receiveTimeNs)
    {
        ArgumentNullException.ThrowIfNull(frame);
        ArgumentOutOfRangeException.ThrowIfNegative(frameIndex);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(frameIndex, uint.MaxValue);
        var captureTimeNs = frame.CaptureTimeNs != 0 ? frame.CaptureTimeNs : receiveTimeNs;
        var timestamp = ToTimestamp(captureTimeNs);
        (bool raw, byte[] payload) = frame.ImageCase switch
        {
            Frame.ImageOneofCase.Encoded => (false, new Fox.CompressedImage
            {
                Timestamp = timestamp,
                FrameId = _frameId,
                Data = frame.Encoded.Data,
                Format = EncodedFormat(frame.Encoded),
            }.ToByteArray()),
            Frame.ImageOneofCase.Raw => (true, ToFoxgloveRaw(frame.Raw, timestamp).ToByteArray()),
            _ => throw new ArgumentException("The frame carries no image.", nameof(frame)),
        };
        return (raw, new McapOutgoingMessage(0, ToTime(receiveTimeNs), ToTime(captureTimeNs), payload, (uint)frameIndex));
    }

    /// <summary>The /camera/image channel for raw or encoded frames, registered on first use (call under the lock).</summary>
    private ushort ImageChannel(bool raw) => raw
        ? _rawChannel ??= _writer.RegisterChannel(_rawSchema, EpisodeSchemas.ImageTopic, EpisodeSchemas.Encoding)
        : _compressedChannel ??= _writer.RegisterChannel(_compressedSchema, EpisodeSchemas.ImageTopic, EpisodeSchemas.Encoding);

    /// <summary>
    /// Records an AddPoints command as applied: the points attach to frame <paramref name="queryFrameIndex"/> and got
    /// the ids in <paramref name="response"/>.
    /// </summary>
    public void WritePointsAdded(long queryFrameIndex, AddPointsRequest request, AddPointsResponse response, long logTimeNs)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(response);
        var added = new PointsAdded();
        added.Points.Add(request.Points);
        added.PointIds.Add(response.PointIds);
        WriteCommand(new PointCommand { FrameIndex = queryFrameIndex, LogTimeNs = logTimeNs, Added = added });
    }

    /// <summary>Records a RemovePoints command as applied: the points are gone from frame <paramref name="frameIndex"/> on.</summary>
    public void WritePointsRemoved(long frameIndex, RemovePointsRequest request, RemovePointsResponse response, long logTimeNs)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(response);
        var removed = new PointsRemoved();
        removed.PointIds.Add(response.Removed);
        removed.Unknown.Add(response.Unknown);
        WriteCommand(new PointCommand { FrameIndex = frameIndex, LogTimeNs = logTimeNs, Removed = removed });
    }

    /// <summary>
    /// Records a frame's update on /tracker/updates and its drawing on /tracker/annotations (a circle per point:
    /// green and filled when visible, red outline when occluded; the id as a label). Log time = the update's publish
    /// time; the annotations carry the frame's capture time so Foxglove pairs them with the image.
    /// </summary>
    public void WriteUpdate(TrackUpdate update)
    {
        var (updateMessage, annotations) = UpdateMessages(update);
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _writer.WriteMessageGroup([updateMessage, annotations]);
        }
    }

    private (McapOutgoingMessage Update, McapOutgoingMessage Annotations) UpdateMessages(TrackUpdate update)
    {
        ArgumentNullException.ThrowIfNull(update);
        var logTime = ToTime(update.PublishTimeNs);
        return (new McapOutgoingMessage(_updateChannel, logTime, logTime, update.ToByteArray(), (uint)update.FrameIndex),
                new McapOutgoingMessage(_annotationChannel, logTime, ToTime(ImageTimeNs(update)), Annotate(update).ToByteArray(), (uint)update.FrameIndex));
    }

    /// <summary>Writes what is pending, the summary and the footer; the file is then a complete MCAP file.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }
            _disposed = true;
            _flushTimer.Dispose();
            _writer.Dispose();
        }
    }

    /// <summary>The foxglove.ImageAnnotations drawn for <paramref name="update"/>.</summary>
    public static Fox.ImageAnnotations Annotate(TrackUpdate update)
    {
        ArgumentNullException.ThrowIfNull(update);
        var stamp = ToTimestamp(ImageTimeNs(update));
        var annotations = new Fox.ImageAnnotations();
        // Marker size follows the image so it reads the same on a 320 px and a 1920 px frame.
        var diameter = Math.Max(6.0, Math.Max(update.FrameWidth, update.FrameHeight) / 80.0);
        foreach (var p in update.Points)
        {
            var position = new Fox.Point2 { X = p.X, Y = p.Y };
            annotations.Circles.Add(new Fox.CircleAnnotation
            {
                Timestamp = stamp,
                Position = position,
                Diameter = diameter,
                Thickness = Math.Max(1.5, diameter / 5),
                FillColor = p.Visible ? s_visibleFill : s_transparent,
                OutlineColor = p.Visible ? s_visible : s_occluded,
            });
            annotations.Texts.Add(new Fox.TextAnnotation
            {
                Timestamp = stamp,
                Position = new Fox.Point2 { X = p.X + diameter * 0.75, Y = p.Y - diameter * 0.75 },
                Text = p.Id.ToString(System.Globalization.CultureInfo.InvariantCulture),
                FontSize = diameter * 1.5,
                TextColor = s_white,
                BackgroundColor = s_labelBackground,
            });
        }
        return annotations;
    }

    private void WriteCommand(PointCommand command)
    {
        var bytes = command.ToByteArray();
        var time = ToTime(command.LogTimeNs);
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _writer.WriteMessage(_commandChannel, time, time, bytes);
        }
    }

    private void FlushPending()
    {
        try
        {
            lock (_lock)
            {
                if (!_disposed)
                {
                    _writer.FlushChunk();
                }
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException)
        {
            // A failing disk shows up on the next write, where the caller can report it; the timer must not crash the process.
        }
    }

    private static string EncodedFormat(EncodedImage image)
    {
        var format = image.Format?.Trim().ToLowerInvariant();
        if (format is "jpeg" or "jpg")
        {
            return "jpeg";
        }
        if (format is { Length: > 0 })
        {
            return format;
        }
        return ImageSniffer.Detect(image.Data.Span) switch
        {
            Imaging.PixelFormat.Jpeg => "jpeg",
            Imaging.PixelFormat.Png => "png",
            _ => "",
        };
    }

    private Fox.RawImage ToFoxgloveRaw(RawImage image, Timestamp timestamp)
    {
        var (encoding, bytesPerPixel) = image.PixelFormat switch
        {
            Protocol.V1.PixelFormat.Rgb8 => ("rgb8", 3),
            Protocol.V1.PixelFormat.Bgr8 => ("bgr8", 3),
            Protocol.V1.PixelFormat.Gray8 => ("mono8", 1),
            _ => throw new ArgumentException($"Raw frame pixel format {image.PixelFormat} cannot be recorded.", nameof(image)),
        };
        var step = image.Stride != 0 ? image.Stride : image.Width * (uint)bytesPerPixel;
        var data = image.Data;
        // The wire allows an unpadded last row; Foxglove wants step * height bytes.
        var full = (long)step * image.Height;
        if (data.Length < full)
        {
            var padded = new byte[full];
            data.Span.CopyTo(padded);
            data = ByteString.CopyFrom(padded);
        }
        return new Fox.RawImage
        {
            Timestamp = timestamp,
            FrameId = _frameId,
            Width = image.Width,
            Height = image.Height,
            Encoding = encoding,
            Step = step,
            Data = data,
        };
    }

    internal static Timestamp ToTimestamp(long ns) => new()
    {
        Seconds = Math.DivRem(ns, 1_000_000_000L, out var rem) - (rem < 0 ? 1 : 0),
        Nanos = (int)(rem < 0 ? rem + 1_000_000_000L : rem),
    };

    private static ulong ToTime(long ns) => ns > 0 ? (ulong)ns : 0;

    /// <summary>The time of the image an update belongs to: its capture time, or its receive time when the camera sent none.</summary>
    private static long ImageTimeNs(TrackUpdate update) => update.CaptureTimeNs != 0 ? update.CaptureTimeNs : update.ReceiveTimeNs;
}
