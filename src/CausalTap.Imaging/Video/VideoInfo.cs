using OpenCvSharp;

namespace CausalTap.Imaging.Video;

/// <summary>What a video source reports: frame size, rate, frame count (when the container stores one), codec.</summary>
public sealed record VideoInfo(int Width, int Height, double FramesPerSecond, int? FrameCount, string Codec)
{
    /// <summary>Opens <paramref name="source"/> (a file, camera or URL, as <see cref="VideoReader.Open"/>) and reads its properties.</summary>
    /// <exception cref="VideoIOException">the source cannot be opened.</exception>
    public static VideoInfo Probe(string source)
    {
        using VideoReader reader = VideoReader.Open(source);
        return reader.Info;
    }

    /// <summary>The properties an open capture reports.</summary>
    internal static VideoInfo Of(VideoCapture capture)
    {
        int fourcc = (int)capture.Get(VideoCaptureProperties.FourCC);
        string codec = fourcc <= 0 ? "" : new string([(char)(fourcc & 0xFF), (char)((fourcc >> 8) & 0xFF), (char)((fourcc >> 16) & 0xFF), (char)((fourcc >> 24) & 0xFF)]).Trim('\0', ' ');
        double frames = capture.Get(VideoCaptureProperties.FrameCount);
        double fps = capture.Get(VideoCaptureProperties.Fps);
        return new VideoInfo(capture.FrameWidth, capture.FrameHeight, double.IsFinite(fps) && fps > 0 ? fps : 0,
            frames >= 1 && frames < int.MaxValue ? (int)frames : null, codec);
    }
}
