namespace CausalTap.Onnx.Tests;

public class SessionTests
{
    public SessionTests() => _ = TestModels.Environment;

    [Fact]
    public void MetadataReportsNamesTypesAndDynamicDims()
    {
        using var session = new InferenceSession(TestModels.Mlp);
        var input = Assert.Single(session.InputMetadata);
        Assert.Equal("X", input.Name);
        Assert.Equal(OnnxValueType.Tensor, input.ValueType);
        Assert.Equal(TensorElementType.Float, input.ElementType);
        Assert.Equal(new long[] { -1, 4 }, input.Shape);
        Assert.Equal(new[] { "batch", "" }, input.SymbolicDimensions);
        Assert.True(input.IsDynamic);

        var output = Assert.Single(session.OutputMetadata);
        Assert.Equal("Y", output.Name);
        Assert.Equal(new long[] { -1, 3 }, output.Shape);
        Assert.Equal(["X"], session.InputNames);
        Assert.Equal(["Y"], session.OutputNames);
    }

    [Fact]
    public void MetadataOfFixedShapeAndMixedTypeModels()
    {
        // Input/output counts and names go through slots 30/31/36/37: a wrong slot would not produce these.
        using var add = new InferenceSession(TestModels.Add);
        Assert.Equal(["A", "B"], add.InputNames);
        Assert.Equal(["C"], add.OutputNames);
        Assert.All(add.InputMetadata, m => Assert.Equal(new long[] { 2, 3 }, m.Shape));
        Assert.False(add.InputMetadata[0].IsDynamic);

        using var dtypes = new InferenceSession(TestModels.DTypes);
        Assert.Equal(
            [TensorElementType.Float16, TensorElementType.Int64, TensorElementType.Int32, TensorElementType.UInt8, TensorElementType.Bool],
            dtypes.InputMetadata.Select(m => m.ElementType));
        Assert.Equal(["H2", "L2", "I2", "U1", "NotB", "LGt2"], dtypes.OutputNames);
        Assert.Equal(TensorElementType.Bool, dtypes.OutputMetadata[5].ElementType);
    }

    [Fact]
    public void AddComputesElementwiseSum()
    {
        using var session = new InferenceSession(TestModels.Add);
        var a = TestModels.Ramp(6, 1.5f, -2f);
        var b = TestModels.Ramp(6, -0.25f, 3f);
        using var va = OrtValue.CreateTensorValueFromMemory(a, [2, 3]);
        using var vb = OrtValue.CreateTensorValueFromMemory(b, [2, 3]);
        using var results = session.Run(["A", "B"], [va, vb]);
        var c = results["C"];
        Assert.Equal(new long[] { 2, 3 }, c.GetTensorTypeAndShape().Shape);
        TestModels.AssertClose(a.Zip(b, (x, y) => x + y).ToArray(), c.GetTensorDataAsSpan<float>(), 0f);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    public void MlpWithDynamicBatchMatchesReference(int batch)
    {
        using var session = new InferenceSession(TestModels.Mlp);
        var x = TestModels.Ramp(batch * 4, 0.37f, -1.3f);
        using var vx = OrtValue.CreateTensorValueFromMemory(x, [batch, 4]);
        using var results = session.Run(["X"], [vx]);
        var y = results[0];
        var info = y.GetTensorTypeAndShape();
        Assert.Equal(new long[] { batch, 3 }, info.Shape);
        Assert.Equal(batch * 3, info.ElementCount);
        var expected = TestModels.MlpReference(x, batch);
        if (batch == 5)
        {
            Assert.Contains(expected, v => v == 0f); // Relu clips something, so the reference exercises it
        }
        TestModels.AssertClose(expected, y.GetTensorDataAsSpan<float>(), 1e-5f);
    }

    [Fact]
    public void SessionFromBytesEqualsSessionFromFile()
    {
        using var fromFile = new InferenceSession(TestModels.Mlp);
        using var fromBytes = new InferenceSession(File.ReadAllBytes(TestModels.Mlp));
        Assert.Equal(fromFile.InputMetadata, fromBytes.InputMetadata, MetadataEquals);
        Assert.Equal(fromFile.OutputMetadata, fromBytes.OutputMetadata, MetadataEquals);

        var x = TestModels.Ramp(12, 0.11f, -0.6f);
        using var vx = OrtValue.CreateTensorValueFromMemory(x, [3, 4]);
        using var a = fromFile.Run(["X"], [vx]);
        using var b = fromBytes.Run(["X"], [vx]);
        Assert.Equal(a[0].GetTensorDataAsSpan<float>().ToArray(), b[0].GetTensorDataAsSpan<float>().ToArray());
    }

    [Fact]
    public void AllElementTypesRoundTrip()
    {
        using var session = new InferenceSession(TestModels.DTypes);
        Half[] h = [(Half)0.5f, (Half)(-1.25f), (Half)3f, (Half)1024f];
        long[] l = [1, 2, 3, -4_000_000_000L];
        int[] i = [7, -8, 0, 1_000_000];
        byte[] u = [0, 1, 254, 255];
        bool[] bm = [true, false, false, true];
        using var vh = OrtValue.CreateTensorValueFromMemory(h, [4]);
        using var vl = OrtValue.CreateTensorValueFromMemory(l, [4]);
        using var vi = OrtValue.CreateTensorValueFromMemory(i, [4]);
        using var vu = OrtValue.CreateTensorValueFromMemory(u, [4]);
        using var vb = OrtValue.CreateTensorValueFromMemory(bm, [4]);
        using var r = session.Run(["H", "L", "I", "U", "Bm"], [vh, vl, vi, vu, vb]);

        Assert.Equal(h.Select(x => (Half)((float)x * 2f)), r["H2"].GetTensorDataAsSpan<Half>().ToArray());
        Assert.Equal(l.Select(x => x * 2), r["L2"].GetTensorDataAsSpan<long>().ToArray());
        Assert.Equal(i.Select(x => x * 2), r["I2"].GetTensorDataAsSpan<int>().ToArray());
        Assert.Equal(u.Select(x => unchecked((byte)(x + 1))), r["U1"].GetTensorDataAsSpan<byte>().ToArray());
        Assert.Equal(bm.Select(x => !x), r["NotB"].GetTensorDataAsSpan<bool>().ToArray());
        Assert.Equal(l.Select(x => x > 2), r["LGt2"].GetTensorDataAsSpan<bool>().ToArray());
        Assert.Equal(TensorElementType.Float16, r["H2"].GetTensorTypeAndShape().ElementType);
        Assert.True(r["H2"].IsTensor);
        Assert.Equal(OnnxValueType.Tensor, r["H2"].OnnxType);
    }

    [Fact]
    public void SessionOptionsKeepWhatWasSetAndSessionRuns()
    {
        using var options = new SessionOptions
        {
            IntraOpNumThreads = 1,
            InterOpNumThreads = 1,
            GraphOptimizationLevel = GraphOptimizationLevel.EnableBasic,
            ExecutionMode = ExecutionMode.Parallel,
            LogSeverityLevel = OrtLoggingLevel.Error,
        };
        options.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
        Assert.Equal(1, options.IntraOpNumThreads);
        Assert.Equal(1, options.InterOpNumThreads);
        Assert.Equal(GraphOptimizationLevel.EnableBasic, options.GraphOptimizationLevel);
        Assert.Equal(ExecutionMode.Parallel, options.ExecutionMode);
        Assert.Equal("0", options.ConfigEntries["session.intra_op.allow_spinning"]);

        using var session = new InferenceSession(TestModels.Mlp, options);
        Assert.Equal([ExecutionProviders.CpuOrtName], session.ProviderSelection.Providers);
        var x = TestModels.Ramp(8, 0.2f, -0.7f);
        using var vx = OrtValue.CreateTensorValueFromMemory(x, [2, 4]);
        using var r = session.Run(["X"], [vx]);
        TestModels.AssertClose(TestModels.MlpReference(x, 2), r[0].GetTensorDataAsSpan<float>(), 1e-5f);
    }

    [Fact]
    public void InvalidOptimizationLevelIsRejectedByOrt()
    {
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.EnableExtended };
        var e = Assert.Throws<OnnxRuntimeException>(() => options.GraphOptimizationLevel = (GraphOptimizationLevel)5);
        Assert.Equal(GraphOptimizationLevel.EnableExtended, options.GraphOptimizationLevel); // managed copy untouched when ORT refuses
        Assert.Equal(ErrorCode.InvalidArgument, e.ErrorCode);
        Assert.False(string.IsNullOrWhiteSpace(e.NativeMessage));
    }

    [Fact]
    public void MissingOrCorruptModelGivesClearErrors()
    {
        Assert.Throws<FileNotFoundException>(() => new InferenceSession("/nonexistent/model.onnx"));
        var e = Assert.Throws<OnnxRuntimeException>(() => new InferenceSession(new byte[] { 1, 2, 3, 4, 5 }));
        Assert.Equal(ErrorCode.InvalidProtobuf, e.ErrorCode);
    }

    private static bool MetadataEquals(NodeMetadata a, NodeMetadata b) =>
        a.Name == b.Name && a.ElementType == b.ElementType && a.Shape.SequenceEqual(b.Shape)
        && a.SymbolicDimensions.SequenceEqual(b.SymbolicDimensions);
}
