using System.IO.Compression;
using System.Text;
using CausalTap.Tracking.Evaluation;

namespace CausalTap.Tracking.Tests.Evaluation;

public class NpyTests
{
    private static byte[] BuildNpy(int major, string header, byte[] data, bool utf8 = false)
    {
        byte[] h = (utf8 ? Encoding.UTF8 : Encoding.Latin1).GetBytes(header + "\n");
        var ms = new MemoryStream();
        ms.Write([0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', (byte)major, 0]);
        if (major == 1) ms.Write(BitConverter.GetBytes((ushort)h.Length));
        else ms.Write(BitConverter.GetBytes((uint)h.Length));
        ms.Write(h);
        ms.Write(data);
        return ms.ToArray();
    }

    private static byte[] FloatBytes(params float[] v)
    {
        var b = new byte[v.Length * 4];
        Buffer.BlockCopy(v, 0, b, 0, b.Length);
        return b;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void ReadsAllHeaderVersions(int major)
    {
        byte[] file = BuildNpy(major, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", FloatBytes(0, 1, 2, 3, 4, 5.5f));
        NpyArray a = Npy.Read(new MemoryStream(file));
        Assert.Equal(NpyElementKind.Float32, a.DType.Kind);
        Assert.Equal([2, 3], a.Shape);
        Assert.Equal([0f, 1, 2, 3, 4, 5.5f], a.Float32);
    }

    [Fact]
    public void ParsesHeaderVariants()
    {
        // Python-2 style longs, double quotes, other key order, no trailing comma, extra spaces.
        NpyHeader h = NpyHeader.Parse("{\"shape\": (3L, 4L), \"fortran_order\": False, \"descr\": \"<i8\"}");
        Assert.Equal(NpyElementKind.Int64, h.DType.Kind);
        Assert.Equal([3, 4], h.Shape);
        Assert.Equal(12, h.Count);
        Assert.Equal(96, h.DataBytes);
        NpyHeader scalar = NpyHeader.Parse("{'descr': '|b1', 'fortran_order': False, 'shape': (), }");
        Assert.Empty(scalar.Shape);
        Assert.Equal(1, scalar.Count);
        NpyHeader one = NpyHeader.Parse("{'descr': '|u1', 'fortran_order': False, 'shape': (7,), }");
        Assert.Equal([7], one.Shape);
    }

    [Theory]
    [InlineData("<f4", NpyElementKind.Float32, 4, false)]
    [InlineData(">f4", NpyElementKind.Float32, 4, true)]
    [InlineData("<f8", NpyElementKind.Float64, 8, false)]
    [InlineData("|u1", NpyElementKind.UInt8, 1, false)]
    [InlineData("|b1", NpyElementKind.Bool, 1, false)]
    [InlineData("<i8", NpyElementKind.Int64, 8, false)]
    [InlineData("<i4", NpyElementKind.Int32, 4, false)]
    [InlineData("<U5", NpyElementKind.Unicode, 20, false)]
    [InlineData("|S3", NpyElementKind.Bytes, 3, false)]
    [InlineData(">u1", NpyElementKind.UInt8, 1, false)]
    public void ParsesDescr(string descr, NpyElementKind kind, int size, bool big)
    {
        NpyDType d = NpyDType.Parse(descr);
        Assert.Equal(kind, d.Kind);
        Assert.Equal(size, d.ItemSize);
        Assert.Equal(big, d.BigEndian);
    }

    [Theory]
    [InlineData("<c8")]
    [InlineData("|O")]
    [InlineData("<M8[ns]")]
    [InlineData("<f3")]
    public void RejectsUnsupportedDescr(string descr)
    {
        var e = Assert.Throws<NpyFormatException>(() => NpyDType.Parse(descr));
        Assert.Contains(descr, e.Message);
    }

    [Fact]
    public void RejectsFortranOrderWithClearMessage()
    {
        byte[] file = BuildNpy(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", FloatBytes(1, 2, 3, 4));
        var e = Assert.Throws<NpyFormatException>(() => Npy.Read(new MemoryStream(file)));
        Assert.Contains("Fortran order", e.Message);
        Assert.Contains("ascontiguousarray", e.Message);
    }

    [Fact]
    public void RejectsStructuredDtype()
    {
        byte[] file = BuildNpy(1, "{'descr': [('a', '<f4'), ('b', '<i4')], 'fortran_order': False, 'shape': (1,), }", new byte[8]);
        var e = Assert.Throws<NpyFormatException>(() => Npy.Read(new MemoryStream(file)));
        Assert.Contains("structured", e.Message);
    }

    [Fact]
    public void RejectsBadMagicVersionAndTruncation()
    {
        Assert.Contains("magic", Assert.Throws<NpyFormatException>(() => Npy.Read(new MemoryStream(Encoding.ASCII.GetBytes("PK\x03\x04 not npy")))).Message);
        byte[] v9 = BuildNpy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", FloatBytes(1));
        v9[6] = 9;
        Assert.Contains("version 9", Assert.Throws<NpyFormatException>(() => Npy.Read(new MemoryStream(v9))).Message);
        byte[] shortData = BuildNpy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", FloatBytes(1, 2));
        Assert.Contains("truncated", Assert.Throws<NpyFormatException>(() => Npy.Read(new MemoryStream(shortData))).Message);
        Assert.Contains("truncated", Assert.Throws<NpyFormatException>(() => Npy.Read(new MemoryStream(shortData[..12]))).Message);
        byte[] noShape = BuildNpy(1, "{'descr': '<f4', 'fortran_order': False, }", []);
        Assert.Contains("shape", Assert.Throws<NpyFormatException>(() => Npy.Read(new MemoryStream(noShape))).Message);
    }

    [Fact]
    public void SwapsBigEndianData()
    {
        byte[] le = FloatBytes(1.5f, -2f, 1e20f);
        byte[] be = (byte[])le.Clone();
        NpyArray.SwapBytes(be, 4);
        NpyArray a = Npy.Read(new MemoryStream(BuildNpy(1, "{'descr': '>f4', 'fortran_order': False, 'shape': (3,), }", be)));
        Assert.Equal([1.5f, -2f, 1e20f], a.Float32);
        Assert.False(a.DType.BigEndian);
        byte[] i8 = BitConverter.GetBytes(0x0102030405060708L);
        Array.Reverse(i8);
        Assert.Equal(0x0102030405060708L, Npy.Read(new MemoryStream(BuildNpy(2, "{'descr': '>i8', 'fortran_order': False, 'shape': (), }", i8))).Int64[0]);
    }

    [Fact]
    public void NormalisesBoolBytesAndReadsStrings()
    {
        NpyArray b = Npy.Read(new MemoryStream(BuildNpy(1, "{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }", [0, 1, 7])));
        Assert.Equal([false, true, true], b.Bool);
        Assert.Equal([0, 1, 1], b.Bytes.ToArray());
        byte[] utf32 = Encoding.UTF32.GetBytes("first");
        NpyArray s = Npy.Read(new MemoryStream(BuildNpy(1, "{'descr': '<U6', 'fortran_order': False, 'shape': (), }", [.. utf32, 0, 0, 0, 0])));
        Assert.Equal("first", s.GetString());
        NpyArray bs = Npy.Read(new MemoryStream(BuildNpy(1, "{'descr': '|S4', 'fortran_order': False, 'shape': (2,), }", Encoding.ASCII.GetBytes("ab\0\0wxyz"))));
        Assert.Equal(["ab", "wxyz"], bs.GetStrings());
    }

    [Fact]
    public void WriterProducesAlignedV1HeaderThatRoundTrips()
    {
        var data = new double[] { 1, -2.5, double.NaN, 4e300 };
        var ms = new MemoryStream();
        Npy.Write(ms, NpyArray.Create(data, 2, 2));
        byte[] bytes = ms.ToArray();
        Assert.Equal(1, bytes[6]);
        int headerLen = bytes[8] | (bytes[9] << 8);
        Assert.Equal(0, (10 + headerLen) % 64);
        Assert.Equal((byte)'\n', bytes[10 + headerLen - 1]);
        string header = Encoding.Latin1.GetString(bytes, 10, headerLen);
        Assert.StartsWith("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }", header);
        NpyArray back = Npy.Read(new MemoryStream(bytes));
        Assert.Equal(data, back.Float64);
        Assert.Equal([2, 2], back.Shape);
    }

    [Fact]
    public void TypedAccessIsZeroCopyAndChecksDtype()
    {
        var f = new float[] { 1, 2, 3 };
        NpyArray a = NpyArray.Create(f, 3);
        Assert.Same(f, a.Float32);
        Assert.Same(f, a.Get<float>());
        Assert.Throws<InvalidOperationException>(() => a.UInt8);
        Assert.Throws<InvalidOperationException>(() => a.Get<double>());
        Assert.Equal([1.0, 2.0, 3.0], a.ToFloat64Array());
        Assert.Throws<ArgumentException>(() => NpyArray.Create(f, 2, 2));
        Assert.Equal("float32 (3,)", a.ToString());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void NpzRoundTripsInProcess(bool compressed)
    {
        var ms = new MemoryStream();
        using (var w = new NpzWriter(ms, compressed, leaveOpen: true))
        {
            w.Add("f", NpyArray.Create(new float[] { 1, 2, 3, 4, 5, 6 }, 2, 3));
            w.Add("u", NpyArray.Create(new byte[] { 0, 128, 255 }, 3));
            w.Add("b", NpyArray.Create(new[] { true, false }, 2));
            w.Add("i", NpyArray.Create(new long[] { long.MinValue, 42 }, 2));
            w.Add("d", NpyArray.Create(new double[] { Math.PI }));
            w.Add("s", NpyArray.FromString("strided"));
            w.Add("empty", NpyArray.Zeros(NpyDType.Float32, 0, 3));
            Assert.Throws<ArgumentException>(() => w.Add("f", NpyArray.FromString("dup")));
        }
        ms.Position = 0;
        using (var zip = new ZipArchive(ms, ZipArchiveMode.Read, leaveOpen: true))
        {
            Assert.Equal(["f.npy", "u.npy", "b.npy", "i.npy", "d.npy", "s.npy", "empty.npy"], zip.Entries.Select(e => e.FullName));
            // Stored members have equal compressed and uncompressed sizes; deflated ones of repetitive data do not.
            Assert.Equal(!compressed, zip.Entries.All(e => e.CompressedLength == e.Length));
        }
        ms.Position = 0;
        using var r = new NpzReader(ms);
        Assert.Equal(["f", "u", "b", "i", "d", "s", "empty"], r.Keys);
        Assert.Equal([1f, 2, 3, 4, 5, 6], r.Read("f").Float32);
        Assert.Equal([2, 3], r.ReadHeader("f").Shape);
        Assert.Equal([0, 128, 255], r.Read("u").UInt8);
        Assert.Equal([true, false], r.Read("b").Bool);
        Assert.Equal([long.MinValue, 42], r.Read("i").Int64);
        Assert.Equal(Math.PI, r.Read("d").Float64[0]);
        Assert.Empty(r.Read("d").Shape);
        Assert.Equal("strided", r.Read("s").GetString());
        Assert.Equal([0, 3], r.Read("empty").Shape);
        var e = Assert.Throws<KeyNotFoundException>(() => r.Read("video"));
        Assert.Contains("'video'", e.Message);
        Assert.Contains("f, u, b", e.Message);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ReadingAVideoAllocatesOnlyItsBuffer(bool compressed)
    {
        // A [T,H,W,3] uint8 video must be decoded straight into its one buffer (no MemoryStream or staging copy).
        const int t = 20, h = 240, w = 320;
        var video = new byte[t * h * w * 3];
        new Random(1).NextBytes(video.AsSpan(0, video.Length / 2));
        using var dir = new TempDir();
        string path = dir.File("v.npz");
        using (var writer = new NpzWriter(path, compressed)) writer.Add("video", NpyArray.Create(video, t, h, w, 3));

        using var reader = new NpzReader(path);
        reader.ReadHeader("video"); // warm-up: zip directory, inflater
        long before = GC.GetAllocatedBytesForCurrentThread();
        NpyArray back = reader.Read("video");
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(video, back.UInt8);
        Assert.InRange(allocated, video.Length, video.Length + 256 * 1024);

        // Frame-by-frame streaming without loading the whole clip.
        using Stream s = reader.OpenData("video", out NpyHeader header);
        Assert.Equal([t, h, w, 3], header.Shape);
        var frame = new byte[h * w * 3];
        for (int i = 0; i < t; i++)
        {
            s.ReadExactly(frame);
            Assert.True(frame.AsSpan().SequenceEqual(video.AsSpan(i * frame.Length, frame.Length)));
        }
    }

    [Fact]
    public void CorruptNpzGivesClearError()
    {
        using var dir = new TempDir();
        string path = dir.File("bad.npz");
        File.WriteAllBytes(path, Encoding.ASCII.GetBytes("this is not a zip file at all, sorry"));
        var e = Assert.Throws<NpyFormatException>(() => new NpzReader(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("zip", e.Message);
    }
}
