using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Jobs;
using CausalTap.Imaging;

namespace CausalTap.Benchmarks;

/// <summary>
/// The ingest stage of one camera frame: a 640x480 JPEG decoded and written, resized and normalised, into the
/// 256x256 input tensor of the default model. The server does exactly this per frame, so it is the number that
/// decides how much of the frame budget decoding takes.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(RuntimeMoniker.Net10_0, warmupCount: 3, iterationCount: 15)]
public class DecodeBenchmarks
{
    private byte[] _jpeg = [];
    private readonly FrameDecoder _decoder = new();
    private readonly RgbImage _image = new();
    private readonly ModelInputWriter _writer = new(256, 256);
    private float[] _tensor = [];
    private readonly RgbImage _resized = new(256, 256);

    /// <summary>Encodes the frame and warms the decoder's buffers.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _jpeg = TestFrames.Jpeg640x480();
        _tensor = new float[_writer.TensorLength];
        DecodeAndResize();
    }

    /// <summary>JPEG bytes to the model's float tensor.</summary>
    [Benchmark]
    public float DecodeAndResize()
    {
        _decoder.Decode(_jpeg, PixelFormat.Jpeg, _image);
        _writer.Write(_image, _tensor);
        return _tensor[0];
    }

    /// <summary>Decode alone, to tell the two halves apart.</summary>
    [Benchmark]
    public int Decode()
    {
        _decoder.Decode(_jpeg, PixelFormat.Jpeg, _image);
        return _image.Width;
    }

    /// <summary>
    /// OpenCV's bilinear resize alone (uint8, no normalisation or planar layout), the library alternative to
    /// <see cref="ModelInputWriter"/>: measured so the choice between them rests on a number.
    /// </summary>
    [Benchmark]
    public int OpenCvResizeOnly()
    {
        OpenCvSharp.Cv2.Resize(_image.AsMat(), _resized.AsMat(), new OpenCvSharp.Size(256, 256), 0, 0, OpenCvSharp.InterpolationFlags.Linear);
        return _resized.Width;
    }

    /// <summary>Releases the decoder.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        _decoder.Dispose();
        _image.Dispose();
        _resized.Dispose();
    }
}
