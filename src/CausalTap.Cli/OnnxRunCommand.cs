using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using CausalTap.Tracking.Evaluation;
using CausalTap.Tracking.Inference;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace CausalTap.Cli;

/// <summary>
/// <c>causaltap onnx-run MODEL.onnx INPUTS.npz OUTPUTS.npz [--provider auto|cpu|cuda|tensorrt] [--repeat N]</c>: runs one ONNX
/// graph on arrays from an .npz file (matched to the model inputs by name) and writes every model output to an
/// .npz. For users debugging a model (feed the same arrays to PyTorch and compare) and the harness of the
/// export parity tests (training/tests/test_export.py). With <c>--repeat N</c> it also times N runs after
/// <c>--warmup</c> unmeasured ones and prints the median, mean and min milliseconds per run.
/// </summary>
internal static class OnnxRunCommand
{
    /// <summary>Exit code for bad arguments or inputs that do not fit the model (missing name, wrong dtype/shape).</summary>
    public const int UsageError = 2;

    public static Command Create()
    {
        var model = new Argument<FileInfo>("MODEL") { Description = "The .onnx file." };
        var inputs = new Argument<FileInfo>("INPUTS") { Description = ".npz with one array per model input, named like the input." };
        var outputs = new Argument<FileInfo>("OUTPUTS") { Description = ".npz to write (every model output, by name)." };
        // CPU by default: this is the harness of the export parity tests, which compare against the CPU.
        var provider = TrackerOptionSet.CreateProviderOption(ExecutionProviders.Cpu);
        var threads = new Option<int>("--threads")
        {
            Description = $"Intra-op threads (0 = ${ProviderPolicy.DefaultThreadsVariable}, else the ONNX Runtime default).",
            DefaultValueFactory = _ => 0,
        };
        var repeat = new Option<int>("--repeat") { Description = "Time this many runs (after --warmup) and print per-run milliseconds.", DefaultValueFactory = _ => 0 };
        var warmup = new Option<int>("--warmup") { Description = "Unmeasured runs before the timed ones (with --repeat).", DefaultValueFactory = _ => 1 };
        var quiet = new Option<bool>("--quiet") { Description = "Print only errors and the timing line." };
        var optimization = new Option<string>("--optimization")
        {
            Description = "ONNX Runtime graph optimisation level: none, basic, extended or all.",
            DefaultValueFactory = _ => "all",
        };
        optimization.AcceptOnlyFromAmong("none", "basic", "extended", "all");
        var verbose = new Option<bool>("--verbose")
        {
            Description = "ONNX Runtime verbose log on stderr (shows which provider each node is placed on).",
        };
        var noCpuFallback = new Option<bool>("--no-cpu-fallback")
        {
            Description = "Fail when any node would be placed on the CPU provider instead of --provider. ORT keeps the shape " +
                          "arithmetic of dynamic axes on the CPU, so graphs with a dynamic point axis fail this; --verbose lists the placement.",
        };
        repeat.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() < 0) r.AddError("--repeat must be >= 0.");
        });
        warmup.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() < 0) r.AddError("--warmup must be >= 0.");
        });

        var command = new Command("onnx-run", "Run one ONNX graph on .npz inputs (matched by name) and write all outputs to .npz.")
        {
            model, inputs, outputs, provider, threads, repeat, warmup, quiet, optimization, noCpuFallback, verbose,
        };
        command.SetAction(parse => Run(new Settings(
            parse.GetValue(model)!.FullName, parse.GetValue(inputs)!.FullName, parse.GetValue(outputs)!.FullName,
            parse.GetValue(provider)!, parse.GetValue(threads), parse.GetValue(repeat),
            parse.GetValue(warmup), parse.GetValue(quiet), parse.GetValue(optimization)!, parse.GetValue(noCpuFallback), parse.GetValue(verbose)), Console.Out, Console.Error));
        return command;
    }

    /// <summary>Parsed arguments.</summary>
    internal sealed record Settings(string Model, string Inputs, string Outputs, string Provider,
        int Threads, int Repeat, int Warmup, bool Quiet, string Optimization = "all", bool NoCpuFallback = false, bool Verbose = false);

    /// <summary>Runs the command; returns the process exit code (0 ok, 1 runtime failure, 2 bad input).</summary>
    internal static int Run(Settings s, TextWriter stdout, TextWriter stderr)
    {
        if (!File.Exists(s.Model))
        {
            stderr.WriteLine($"onnx-run: model file '{s.Model}' does not exist.");
            return UsageError;
        }
        if (!File.Exists(s.Inputs))
        {
            stderr.WriteLine($"onnx-run: inputs file '{s.Inputs}' does not exist.");
            return UsageError;
        }

        Dictionary<string, NpyArray> arrays;
        try
        {
            arrays = NpzReader.Load(s.Inputs);
        }
        catch (Exception e) when (e is NpyFormatException or IOException or InvalidDataException)
        {
            stderr.WriteLine($"onnx-run: cannot read '{s.Inputs}': {e.Message}");
            return UsageError;
        }

        InferenceSession session;
        ProviderChoice choice;
        try
        {
            var settings = new InferenceSettings(s.Provider, s.Threads)
            {
                OptimizationLevel = s.Optimization switch
                {
                    "none" => GraphOptimizationLevel.ORT_DISABLE_ALL,
                    "basic" => GraphOptimizationLevel.ORT_ENABLE_BASIC,
                    "extended" => GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
                    _ => GraphOptimizationLevel.ORT_ENABLE_ALL,
                },
                DisableCpuFallback = s.NoCpuFallback,
                VerboseLog = s.Verbose,
            };
            session = ProviderPolicy.Open(s.Model, settings, out choice);
        }
        catch (ProviderUnavailableException e)
        {
            stderr.WriteLine($"onnx-run: {e.Message}");
            return 1;
        }
        catch (OnnxRuntimeException e)
        {
            stderr.WriteLine($"onnx-run: cannot load '{s.Model}': {e.Message}");
            return 1;
        }

        using (session)
        using (var runOptions = new RunOptions())
        {
            foreach (string skipped in choice.Skipped)
            {
                stderr.WriteLine($"onnx-run: auto skipped {skipped}");
            }
            if (!s.Quiet)
            {
                stdout.WriteLine($"model {s.Model} ({choice})");
                stdout.Flush();
            }

            var values = new List<OrtValue>();
            try
            {
                var names = new List<string>();
                var errors = new List<string>();
                foreach (GraphTensor input in GraphTensor.Inputs(session))
                {
                    if (!arrays.TryGetValue(input.Name, out NpyArray? array))
                    {
                        errors.Add($"input '{input.Name}' ({Describe(input)}) is not in {Path.GetFileName(s.Inputs)} " +
                                   $"(it has: {string.Join(", ", arrays.Keys)})");
                        continue;
                    }
                    string? problem = CheckShape(input, array);
                    if (problem is not null)
                    {
                        errors.Add(problem);
                        continue;
                    }
                    OrtValue? value = ToOrtValue(input, array, out problem);
                    if (value is null)
                    {
                        errors.Add(problem!);
                        continue;
                    }
                    values.Add(value);
                    names.Add(input.Name);
                    if (!s.Quiet) stdout.WriteLine($"  in  {input.Name,-24} {array.DType.Name,-8} {array.ShapeText}");
                }
                foreach (string extra in arrays.Keys.Except(session.InputNames))
                {
                    if (!s.Quiet) stdout.WriteLine($"  (ignored: '{extra}' is not a model input)");
                }
                if (errors.Count > 0)
                {
                    foreach (string e in errors) stderr.WriteLine($"onnx-run: {e}");
                    return UsageError;
                }

                Dictionary<string, NpyArray> results;
                try
                {
                    for (int i = 0; i < (s.Repeat > 0 ? s.Warmup : 0); i++)
                    {
                        using var warm = session.Run(runOptions, names, values, session.OutputNames);
                    }
                    var times = new List<double>();
                    var watch = new Stopwatch();
                    int runs = Math.Max(1, s.Repeat);
                    results = new Dictionary<string, NpyArray>(StringComparer.Ordinal);
                    for (int i = 0; i < runs; i++)
                    {
                        watch.Restart();
                        using var outs = session.Run(runOptions, names, values, session.OutputNames);
                        watch.Stop();
                        times.Add(watch.Elapsed.TotalMilliseconds);
                        if (i == runs - 1)
                        {
                            int o = 0;
                            foreach (OrtValue output in outs)
                            {
                                results[session.OutputNames[o++]] = ToNpy(output);
                            }
                        }
                    }
                    if (s.Repeat > 0)
                    {
                        times.Sort();
                        double median = times.Count % 2 == 1
                            ? times[times.Count / 2]
                            : (times[times.Count / 2 - 1] + times[times.Count / 2]) / 2;
                        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                            $"timing {Path.GetFileName(s.Model)}: runs={times.Count} median_ms={median:F2} mean_ms={times.Average():F2} " +
                            $"min_ms={times[0]:F2} max_ms={times[^1]:F2} threads={(s.Threads == 0 ? "default" : s.Threads.ToString(CultureInfo.InvariantCulture))} " +
                            $"provider={choice.Provider}"));
                    }
                }
                catch (Exception e) when (e is OnnxRuntimeException or NotSupportedException)
                {
                    stderr.WriteLine($"onnx-run: running '{s.Model}' failed: {e.Message}");
                    return 1;
                }

                foreach ((string name, NpyArray array) in results)
                {
                    if (!s.Quiet) stdout.WriteLine($"  out {name,-24} {array.DType.Name,-8} {array.ShapeText}");
                }
                string? dir = Path.GetDirectoryName(s.Outputs);
                if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
                NpzWriter.Save(s.Outputs, results);
                return 0;
            }
            finally
            {
                foreach (OrtValue v in values) v.Dispose();
            }
        }
    }

    private static string Describe(GraphTensor node) =>
        $"{node.ElementType} [{string.Join(", ", node.Shape.Select((d, i) => d >= 0 ? d.ToString(CultureInfo.InvariantCulture) : (node.SymbolicDimensions.Count > i && node.SymbolicDimensions[i].Length > 0 ? node.SymbolicDimensions[i] : "?")))}]";

    /// <summary>Null when the array's shape fits the input's (static dims equal, dynamic dims anything); else why not.</summary>
    private static string? CheckShape(GraphTensor input, NpyArray array)
    {
        bool ok = input.Shape.Count == array.Rank;
        for (int i = 0; ok && i < array.Rank; i++)
        {
            ok = input.Shape[i] < 0 || input.Shape[i] == array.Shape[i];
        }
        return ok ? null : $"input '{input.Name}' expects {Describe(input)}, the array has shape {array.ShapeText}";
    }

    /// <summary>Wraps the array as a tensor of the input's element type (float64 arrays are rounded to float32).</summary>
    private static OrtValue? ToOrtValue(GraphTensor input, NpyArray array, out string? problem)
    {
        problem = null;
        long[] shape = array.Shape.Select(d => (long)d).ToArray();
        NpyElementKind kind = array.DType.Kind;
        switch (input.ElementType)
        {
            case TensorElementType.Float when kind is NpyElementKind.Float32:
                return OrtValue.CreateTensorValueFromMemory(array.Float32, shape);
            case TensorElementType.Float when kind is NpyElementKind.Float64:
                return OrtValue.CreateTensorValueFromMemory(array.ToFloat32Array(), shape);
            case TensorElementType.Double when kind is NpyElementKind.Float64:
                return OrtValue.CreateTensorValueFromMemory(array.Float64, shape);
            case TensorElementType.Int64 when kind is NpyElementKind.Int64:
                return OrtValue.CreateTensorValueFromMemory(array.Int64, shape);
            case TensorElementType.Int32 when kind is NpyElementKind.Int32:
                return OrtValue.CreateTensorValueFromMemory(array.Int32, shape);
            case TensorElementType.UInt8 when kind is NpyElementKind.UInt8:
                return OrtValue.CreateTensorValueFromMemory(array.UInt8, shape);
            case TensorElementType.Bool when kind is NpyElementKind.Bool:
                return OrtValue.CreateTensorValueFromMemory(array.Bool, shape);
            case TensorElementType.Float16 when kind is NpyElementKind.Float16:
                // ORT's managed half type is Float16 (same bits as System.Half).
                return OrtValue.CreateTensorValueFromMemory(MemoryMarshal.Cast<Half, Float16>(array.Get<Half>()).ToArray(), shape);
            default:
                problem = $"input '{input.Name}' expects {input.ElementType} elements, the array is {array.DType.Name}";
                return null;
        }
    }

    /// <summary>Copies an output tensor into an .npy array of the same dtype and shape.</summary>
    private static NpyArray ToNpy(OrtValue value)
    {
        OrtTensorTypeAndShapeInfo info = value.GetTensorTypeAndShape();
        int[] shape = info.Shape.Select(d => checked((int)d)).ToArray();
        return info.ElementDataType switch
        {
            TensorElementType.Float => NpyArray.Create(value.GetTensorDataAsSpan<float>().ToArray(), shape),
            TensorElementType.Double => NpyArray.Create(value.GetTensorDataAsSpan<double>().ToArray(), shape),
            TensorElementType.Int64 => NpyArray.Create(value.GetTensorDataAsSpan<long>().ToArray(), shape),
            TensorElementType.Int32 => NpyArray.Create(value.GetTensorDataAsSpan<int>().ToArray(), shape),
            TensorElementType.UInt8 => NpyArray.Create(value.GetTensorDataAsSpan<byte>().ToArray(), shape),
            TensorElementType.Bool => NpyArray.Create(value.GetTensorDataAsSpan<bool>().ToArray(), shape),
            TensorElementType.Float16 => NpyArray.Create(MemoryMarshal.Cast<Float16, Half>(value.GetTensorDataAsSpan<Float16>()).ToArray(), shape),
            _ => throw new NotSupportedException($"output element type {info.ElementDataType} cannot be written to .npz"),
        };
    }
}
