using System.Text.Json;
using CausalTap.Tracking.Evaluation;

namespace CausalTap.Tracking.Tests.Evaluation;

/// <summary>.npy/.npz files cross the language boundary both ways: C# writes, numpy reads; numpy writes, C# reads.</summary>
public class NpzInteropTests
{
    private const string DescribeNpz = """
        import zipfile
        path = sys.argv[1]
        kinds = {i.filename: i.compress_type for i in zipfile.ZipFile(path).infolist()}
        out = {}
        with np.load(path) as z:
            for k in z.files:
                a = z[k]
                vals = a.ravel().tolist() if a.dtype.kind != 'U' else [str(v) for v in a.ravel()]
                out[k] = {'dtype': a.dtype.str, 'shape': list(a.shape), 'values': vals, 'zip': kinds[k + '.npy']}
        print(json.dumps(out))
        """;

    [PythonNumpyTheory]
    [InlineData(false)]
    [InlineData(true)]
    public void NumpyLoadsWhatCSharpWrites(bool compressed)
    {
        using var dir = new TempDir();
        string path = dir.File("cs.npz");
        using (var w = new NpzWriter(path, compressed))
        {
            w.Add("f4", NpyArray.Create(new float[] { 0.5f, -1.25f, 3e-8f, 1e30f, 0, 7 }, 2, 3));
            w.Add("u1", NpyArray.Create(Enumerable.Range(0, 2 * 2 * 3 * 3).Select(i => (byte)(i * 7)).ToArray(), 2, 2, 3, 3));
            w.Add("b1", NpyArray.Create(new[] { true, false, false, true }, 2, 2));
            w.Add("i8", NpyArray.Create(new long[] { -5, 1L << 40 }, 2));
            w.Add("f8", NpyArray.Create(new double[] { Math.E }));
            w.Add("i4", NpyArray.Create(new int[] { -7 }, 1));
            w.Add("s", NpyArray.FromString("first"));
            w.Add("empty", NpyArray.Zeros(NpyDType.Float32, 0, 3));
        }
        using JsonDocument doc = JsonDocument.Parse(PythonRunner.RunCode(DescribeNpz, path));
        JsonElement root = doc.RootElement;
        void Check(string key, string dtype, int[] shape, int zipMethod)
        {
            JsonElement e = root.GetProperty(key);
            Assert.Equal(dtype, e.GetProperty("dtype").GetString());
            Assert.Equal(shape, e.GetProperty("shape").EnumerateArray().Select(x => x.GetInt32()));
            Assert.Equal(zipMethod, e.GetProperty("zip").GetInt32());
        }
        int method = compressed ? 8 : 0; // ZIP_DEFLATED : ZIP_STORED
        Check("f4", "<f4", [2, 3], method);
        Check("u1", "|u1", [2, 2, 3, 3], method);
        Check("b1", "|b1", [2, 2], method);
        Check("i8", "<i8", [2], method);
        Check("f8", "<f8", [], method);
        Check("i4", "<i4", [1], method);
        Check("s", "<U5", [], method);
        Check("empty", "<f4", [0, 3], method);
        Assert.Equal([0.5f, -1.25f, 3e-8f, 1e30f, 0, 7], root.GetProperty("f4").GetProperty("values").EnumerateArray().Select(x => (float)x.GetDouble()));
        Assert.Equal(Enumerable.Range(0, 36).Select(i => (i * 7) & 255), root.GetProperty("u1").GetProperty("values").EnumerateArray().Select(x => x.GetInt32()));
        Assert.Equal([true, false, false, true], root.GetProperty("b1").GetProperty("values").EnumerateArray().Select(x => x.GetBoolean()));
        Assert.Equal([-5L, 1L << 40], root.GetProperty("i8").GetProperty("values").EnumerateArray().Select(x => x.GetInt64()));
        Assert.Equal(Math.E, root.GetProperty("f8").GetProperty("values")[0].GetDouble());
        Assert.Equal("first", root.GetProperty("s").GetProperty("values")[0].GetString());
    }

    [PythonNumpyTheory]
    [InlineData("savez")]
    [InlineData("savez_compressed")]
    public void CSharpReadsWhatNumpyWrites(string function)
    {
        using var dir = new TempDir();
        string path = dir.File("py.npz");
        PythonRunner.RunCode($$"""
            path = sys.argv[1]
            np.{{function}}(path,
                f4=np.arange(24, dtype=np.float32).reshape(2, 3, 4) * np.float32(0.25) - np.float32(1),
                u1=(np.arange(60) % 256).astype(np.uint8).reshape(4, 5, 3),
                b1=(np.arange(12) % 3 == 0).reshape(3, 4),
                i8=np.arange(5, dtype=np.int64) * -1000000000000,
                f8=np.array([np.pi, -0.0, 1e-300]),
                big=np.arange(4, dtype='>f4') + np.float32(0.5),
                transposed=np.arange(6, dtype=np.float32).reshape(2, 3).T,
                query_mode='strided')
            """, path);
        using var r = new NpzReader(path);
        Assert.Equal(Enumerable.Range(0, 24).Select(i => i * 0.25f - 1), r.Read("f4").Float32);
        Assert.Equal([2, 3, 4], r.Read("f4").Shape);
        Assert.Equal(Enumerable.Range(0, 60).Select(i => (byte)i), r.Read("u1").UInt8);
        Assert.Equal([4, 5, 3], r.Read("u1").Shape);
        Assert.Equal(Enumerable.Range(0, 12).Select(i => i % 3 == 0), r.Read("b1").Bool);
        Assert.Equal(Enumerable.Range(0, 5).Select(i => i * -1000000000000L), r.Read("i8").Int64);
        Assert.Equal([Math.PI, -0.0, 1e-300], r.Read("f8").Float64);
        Assert.Equal([0.5f, 1.5f, 2.5f, 3.5f], r.Read("big").Float32);
        // A transposed (non C-contiguous) array is saved with fortran_order True: clear error.
        var e = Assert.Throws<NpyFormatException>(() => r.Read("transposed"));
        Assert.Contains("transposed", e.Message);
        Assert.Contains("Fortran", e.Message);
        Assert.Equal("strided", r.Read("query_mode").GetString());
    }

    [PythonNumpyFact]
    public void CSharpReadsNpyVersions2And3()
    {
        using var dir = new TempDir();
        PythonRunner.RunCode("""
            from numpy.lib import format as fmt
            a = np.arange(10, dtype=np.float32) / np.float32(4)
            for v in (1, 2, 3):
                with open(sys.argv[1] + '/v%d.npy' % v, 'wb') as f:
                    fmt.write_array(f, a, version=(v, 0))
            """, dir.Path);
        for (int v = 1; v <= 3; v++)
        {
            string path = dir.File($"v{v}.npy");
            Assert.Equal(v, File.ReadAllBytes(path)[6]);
            NpyArray a = Npy.Read(path);
            Assert.Equal(Enumerable.Range(0, 10).Select(i => i / 4f), a.Float32);
        }
    }

    [PythonNumpyFact]
    public void NumpyLoadsLargeNpyWrittenByCSharp()
    {
        // A shape long enough to need more than one header alignment block still loads.
        using var dir = new TempDir();
        string path = dir.File("big.npy");
        var data = new float[3 * 5 * 7 * 11 * 2];
        for (int i = 0; i < data.Length; i++) data[i] = i;
        Npy.Write(path, NpyArray.Create(data, 3, 5, 7, 11, 2));
        string sum = PythonRunner.RunCode("a = np.load(sys.argv[1]); print(a.shape, a.dtype, float(a.sum()))", path).Trim();
        Assert.Equal($"(3, 5, 7, 11, 2) float32 {(double)data.Sum():0.0}", sum);
    }
}
