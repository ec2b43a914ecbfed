namespace CausalTap.Onnx.Tests;

public class RunTests
{
    public RunTests() => _ = TestModels.Environment;

    [Fact]
    public void ReusedOutputsUpdateEveryRunWithoutAllocating()
    {
        using var session = new InferenceSession(TestModels.Mlp);
        const int batch = 2;
        var x = new float[batch * 4];
        var y = new float[batch * 3];
        using var vx = OrtValue.CreateTensorValueFromMemory(x, [batch, 4]);
        using var vy = OrtValue.CreateTensorValueFromMemory(y, [batch, 3]);
        string[] inNames = ["X"], outNames = ["Y"];
        OrtValue[] ins = [vx], outs = [vy];

        float[]? previous = null;
        for (var n = 0; n < 6; n++)
        {
            // Inputs are pinned managed memory: writing the array changes what the next run sees.
            for (var k = 0; k < x.Length; k++)
            {
                x[k] = 0.3f * k - 1f + 0.5f * n;
            }
            Array.Fill(y, float.NaN);
            session.Run(inNames, ins, outNames, outs);
            TestModels.AssertClose(TestModels.MlpReference(x, batch), y, 1e-5f);
            // The same native output sees the same memory.
            Assert.Equal(y, vy.GetTensorDataAsSpan<float>().ToArray());
            if (previous is not null)
            {
                Assert.NotEqual(previous, y);
            }
            previous = (float[])y.Clone();
        }

        for (var n = 0; n < 20; n++)
        {
            session.Run(inNames, ins, outNames, outs); // warm up (JIT, tiering)
        }
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var n = 0; n < 200; n++)
        {
            session.Run(inNames, ins, outNames, outs);
        }
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated < 200, $"hot loop allocated {allocated} managed bytes over 200 runs");
    }

    [Fact]
    public void OrtAllocatedTensorsAreWritableAndReadable()
    {
        using var session = new InferenceSession(TestModels.Add);
        using var a = OrtValue.CreateAllocatedTensorValue(TensorElementType.Float, [2, 3]);
        using var b = OrtValue.CreateAllocatedTensorValue(TensorElementType.Float, [2, 3]);
        using var c = OrtValue.CreateAllocatedTensorValue(TensorElementType.Float, [2, 3]);
        TestModels.Ramp(6, 1f, 0f).CopyTo(a.GetTensorMutableDataAsSpan<float>());
        TestModels.Ramp(6, 10f, 0f).CopyTo(b.GetTensorMutableDataAsSpan<float>());
        session.Run(["A", "B"], [a, b], ["C"], [c]);
        Assert.Equal(TestModels.Ramp(6, 11f, 0f), c.GetTensorDataAsSpan<float>().ToArray());
    }

    [Fact]
    public void BadInputNameCarriesOrtMessage()
    {
        using var session = new InferenceSession(TestModels.Add);
        using var v = OrtValue.CreateTensorValueFromMemory(new float[6], [2, 3]);
        var e = Assert.Throws<OnnxRuntimeException>(() => session.Run(["A", "nope"], [v, v]));
        Assert.Equal(ErrorCode.InvalidArgument, e.ErrorCode);
        Assert.Contains("Invalid input name", e.Message);
        Assert.Contains("nope", e.Message);
    }

    [Fact]
    public void BadOutputNameCarriesOrtMessage()
    {
        using var session = new InferenceSession(TestModels.Add);
        using var v = OrtValue.CreateTensorValueFromMemory(new float[6], [2, 3]);
        var e = Assert.Throws<OnnxRuntimeException>(() => session.Run(["A", "B"], [v, v], ["missing"]));
        Assert.Contains("Invalid output name", e.Message);
        Assert.Contains("missing", e.Message);
    }

    [Fact]
    public void WrongRankCarriesOrtMessage()
    {
        using var session = new InferenceSession(TestModels.Add);
        using var bad = OrtValue.CreateTensorValueFromMemory(new float[6], [6]);
        using var ok = OrtValue.CreateTensorValueFromMemory(new float[6], [2, 3]);
        var e = Assert.Throws<OnnxRuntimeException>(() => session.Run(["A", "B"], [bad, ok]));
        Assert.Contains("Invalid rank for input: A", e.Message);
    }

    [Fact]
    public void WrongDimensionCarriesOrtMessage()
    {
        using var session = new InferenceSession(TestModels.Mlp);
        using var bad = OrtValue.CreateTensorValueFromMemory(new float[10], [2, 5]);
        var e = Assert.Throws<OnnxRuntimeException>(() => session.Run(["X"], [bad]));
        Assert.Contains("Got invalid dimensions for input: X", e.Message);
    }

    [Fact]
    public void WrongElementTypeCarriesOrtMessage()
    {
        using var session = new InferenceSession(TestModels.Add);
        using var ints = OrtValue.CreateTensorValueFromMemory(new int[6], [2, 3]);
        using var ok = OrtValue.CreateTensorValueFromMemory(new float[6], [2, 3]);
        var e = Assert.Throws<OnnxRuntimeException>(() => session.Run(["A", "B"], [ints, ok]));
        Assert.Contains("Unexpected input data type", e.Message);
        Assert.Contains("tensor(int32)", e.Message);
    }

    [Fact]
    public void PreallocatedOutputOfWrongShapeIsRejected()
    {
        using var session = new InferenceSession(TestModels.Mlp);
        using var x = OrtValue.CreateTensorValueFromMemory(new float[8], [2, 4]);
        using var y = OrtValue.CreateTensorValueFromMemory(new float[9], [3, 3]);
        var e = Assert.Throws<OnnxRuntimeException>(() => session.Run(["X"], [x], ["Y"], [y]));
        Assert.False(string.IsNullOrWhiteSpace(e.NativeMessage));
    }

    [Fact]
    public void ManagedChecksCatchMismatchesBeforeOrt()
    {
        Assert.Throws<ArgumentException>(() => OrtValue.CreateTensorValueFromMemory(new float[5], [2, 3]));
        Assert.Throws<ArgumentException>(() => OrtValue.CreateTensorValueFromMemory(new float[6], [-2, -3]));
        using var v = OrtValue.CreateTensorValueFromMemory(new float[6], [2, 3]);
        Assert.Throws<InvalidOperationException>(() => v.GetTensorDataAsSpan<int>().Length);

        using var session = new InferenceSession(TestModels.Add);
        Assert.Throws<ArgumentException>(() => session.Run(["A", "B"], [v]));
        v.Dispose();
        Assert.Throws<ObjectDisposedException>(() => v.GetTensorTypeAndShape());
    }

    [Fact]
    public void RunOptionsTerminateStopsRunsUntilCleared()
    {
        using var session = new InferenceSession(TestModels.Add);
        using var v = OrtValue.CreateTensorValueFromMemory(new float[6], [2, 3]);
        using var options = new RunOptions { LogTag = "terminate-test", LogSeverityLevel = OrtLoggingLevel.Fatal };
        options.AddRunConfigEntry("memory.enable_memory_arena_shrinkage", "cpu:0");
        Assert.Equal("terminate-test", options.LogTag);

        options.Terminate = true;
        var e = Assert.Throws<OnnxRuntimeException>(() => session.Run(["A", "B"], [v, v], null, options));
        Assert.Contains("terminate", e.Message, StringComparison.OrdinalIgnoreCase);

        options.Terminate = false;
        using var r = session.Run(["A", "B"], [v, v], null, options);
        Assert.Equal(6, r[0].GetTensorDataAsSpan<float>().Length);
    }

    [Fact]
    public void ConcurrentRunsOnOneSessionAreIndependent()
    {
        using var session = new InferenceSession(TestModels.Mlp);
        Parallel.For(0, 8, t =>
        {
            for (var n = 0; n < 25; n++)
            {
                var x = TestModels.Ramp(4, 0.1f * t, n * 0.01f - 0.5f);
                var y = new float[3];
                using var vx = OrtValue.CreateTensorValueFromMemory(x, [1, 4]);
                using var vy = OrtValue.CreateTensorValueFromMemory(y, [1, 3]);
                session.Run(["X"], [vx], ["Y"], [vy]);
                TestModels.AssertClose(TestModels.MlpReference(x, 1), y, 1e-5f);
            }
        });
    }
}
