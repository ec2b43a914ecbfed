using CausalTap.Imaging;
using CausalTap.Imaging.Video;
using CausalTap.Protocol.V1;
using Google.Protobuf;

namespace CausalTap.Cli;

/// <summary>How the camera side puts frames on the wire.</summary>
internal enum StreamImageFormat
{
    Jpeg,
    Raw,
}

/// <summary>One frame ready for the wire: an encoded file (JPEG/PNG) or raw RGB8 pixels, and its size.</summary>
internal readonly record struct SourceFrame(ByteString Data, string EncodedFormat, int Width, int Height)
{
    public bool IsRaw => EncodedFormat.Length == 0;

    public Frame ToFrame(string sessionId, long captureTimeNs, ulong sequence)
    {
        var frame = new Frame { SessionId = sessionId, CaptureTimeNs = captureTimeNs, Sequence = sequence };
        if (IsRaw)
        {
            frame.Raw = new RawImage { Width = (uint)Width, Height = (uint)Height, PixelFormat = Protocol.V1.PixelFormat.Rgb8, Data = Data };
        }
        else
        {
            frame.Encoded = new EncodedImage { Data = Data, Format = EncodedFormat };
        }
        return frame;
    }
}

/// <summary>Frames to stream, in order.</summary>
internal interface IStreamFrameSource : IDisposable
{
    /// <summary>The source's own rate (0 when unknown).</summary>
    double FramesPerSecond { get; }

    /// <summary>A live camera or stream: it paces itself, and cannot loop.</summary>
    bool IsLive { get; }

    bool TryRead(out SourceFrame frame);
}

internal static class StreamFrameSources
{
    /// <summary>
    /// A folder of images (sent as they are with --format jpeg), or any source the imaging room opens (video file,
    /// /dev/videoN, rtsp/http URL, synthetic:WxH), encoded here.
    /// </summary>
    public static IStreamFrameSource Open(string source, StreamImageFormat format, int scaleWidth = 0)
    {
        if (Directory.Exists(source) && format == StreamImageFormat.Jpeg && scaleWidth == 0) return new FolderFileSource(source);
        IFrameSource frames = FrameSource.Open(source, directoryFramesPerSecond: 0);
        bool live = frames is VideoReader { Kind: not VideoSourceKind.File };
        return new EncodingFrameSource(frames, format, scaleWidth, live);
    }
}

/// <summary>A folder of JPEG/PNG files sent as they are (no re-encoding).</summary>
internal sealed class FolderFileSource(string folder) : IStreamFrameSource
{
    private readonly FrameDirectoryReader _reader = new(folder);
    private int _next;

    public double FramesPerSecond => 0;

    public bool IsLive => false;

    public bool TryRead(out SourceFrame frame)
    {
        frame = default;
        if (_next >= _reader.Files.Count) return false;
        string file = _reader.Files[_next++];
        string kind = Path.GetExtension(file).Equals(".png", StringComparison.OrdinalIgnoreCase) ? "png" : "jpeg";
        frame = new SourceFrame(ByteString.CopyFrom(File.ReadAllBytes(file)), kind, _reader.Width, _reader.Height);
        return true;
    }

    public void Dispose() => _reader.Dispose();
}

/// <summary>
/// Frames from an <see cref="IFrameSource"/>, optionally scaled to a width (aspect kept, even height), then JPEG
/// encoded (quality 90) or packed as raw RGB8 for the wire.
/// </summary>
internal sealed class EncodingFrameSource(IFrameSource frames, StreamImageFormat format, int scaleWidth, bool live) : IStreamFrameSource
{
    private readonly RgbImage _image = new();
    private readonly RgbImage _scaled = new();

    public double FramesPerSecond => frames.FramesPerSecond;

    public bool IsLive => live;

    public bool TryRead(out SourceFrame frame)
    {
        frame = default;
        if (!frames.TryReadFrame(_image)) return false;
        RgbImage image = _image;
        if (scaleWidth > 0 && scaleWidth != _image.Width)
        {
            int height = Math.Max(2, (int)Math.Round(_image.Height * (double)scaleWidth / _image.Width / 2) * 2);
            _image.ScaleTo(_scaled, scaleWidth, height);
            image = _scaled;
        }
        frame = format == StreamImageFormat.Jpeg
            ? new SourceFrame(ByteString.CopyFrom(ImageEncoder.EncodeJpeg(image)), "jpeg", image.Width, image.Height)
            : new SourceFrame(ByteString.CopyFrom(Packed(image)), "", image.Width, image.Height);
        return true;
    }

    private static byte[] Packed(RgbImage image)
    {
        var packed = new byte[image.Width * image.Height * 3];
        for (int y = 0; y < image.Height; y++) image.Row(y).CopyTo(packed.AsSpan(y * image.Width * 3));
        return packed;
    }

    public void Dispose()
    {
        frames.Dispose();
        _image.Dispose();
        _scaled.Dispose();
    }
}
