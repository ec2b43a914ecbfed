using CausalTap.Onnx.Native;

namespace CausalTap.Onnx;

/// <summary>
/// A loaded model (<c>OrtSession</c>). Runs are thread-safe. The model's input and output names are kept as
/// native UTF-8 for the session's lifetime so that <see cref="Run(IReadOnlyList{string}, IReadOnlyList{OrtValue}, IReadOnlyList{string}, IReadOnlyList{OrtValue}, RunOptions?)"/>
/// with caller-owned outputs allocates nothing per call.
/// </summary>
public sealed unsafe class InferenceSession : IDisposable
{
    private const int StackLimit = 64;

    private readonly SessionHandle _session;
    private readonly Dictionary<string, IntPtr> _nativeNames = new(StringComparer.Ordinal);

    /// <summary>Loads a model file with <paramref name="options"/> (default options when null).</summary>
    public InferenceSession(string modelPath, SessionOptions? options = null)
        : this(CreateFromPath(modelPath, options), SelectionOf(options))
    {
    }

    /// <summary>Loads a model from serialized bytes with <paramref name="options"/> (default options when null).</summary>
    public InferenceSession(byte[] model, SessionOptions? options = null)
        : this(CreateFromBytes(model, options), SelectionOf(options))
    {
    }

    private InferenceSession(SessionHandle session, ProviderSelection selection)
    {
        _session = session;
        ProviderSelection = selection;
        try
        {
            InputMetadata = ReadMetadata(input: true);
            OutputMetadata = ReadMetadata(input: false);
            InputNames = InputMetadata.Select(m => m.Name).ToArray();
            OutputNames = OutputMetadata.Select(m => m.Name).ToArray();
            foreach (var name in InputNames.Concat(OutputNames))
            {
                _nativeNames.TryAdd(name, (IntPtr)Utf8.Alloc(name));
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>
    /// Builds options from <paramref name="config"/> and loads the model. Providers that cannot be appended are
    /// dropped with a warning; if the session then fails to initialise with the remaining non-CPU providers, it
    /// is rebuilt CPU-only with a warning. With <see cref="SessionConfig.StrictProviders"/> both cases throw.
    /// </summary>
    public static InferenceSession Create(string modelPath, SessionConfig config) =>
        CreateWithFallback(config, options => CreateFromPath(modelPath, options));

    /// <summary>As <see cref="Create(string, SessionConfig)"/>, from serialized model bytes.</summary>
    public static InferenceSession Create(byte[] model, SessionConfig config) =>
        CreateWithFallback(config, options => CreateFromBytes(model, options));

    /// <summary>Providers this session was created with, and any fallback warnings.</summary>
    public ProviderSelection ProviderSelection { get; }

    /// <summary>Model inputs, in model order.</summary>
    public IReadOnlyList<NodeMetadata> InputMetadata { get; }

    /// <summary>Model outputs, in model order.</summary>
    public IReadOnlyList<NodeMetadata> OutputMetadata { get; }

    /// <summary>Input names, in model order.</summary>
    public IReadOnlyList<string> InputNames { get; }

    /// <summary>Output names, in model order.</summary>
    public IReadOnlyList<string> OutputNames { get; }

    /// <summary>
    /// Runs the model; ORT allocates the outputs. <paramref name="outputNames"/> defaults to all outputs.
    /// Dispose the returned collection to free them.
    /// </summary>
    public OrtValueCollection Run(IReadOnlyList<string> inputNames, IReadOnlyList<OrtValue> inputs,
        IReadOnlyList<string>? outputNames = null, RunOptions? runOptions = null)
    {
        outputNames ??= OutputNames;
        var outputs = new IntPtr[outputNames.Count];
        fixed (IntPtr* outputPtr = outputs)
        {
            RunCore(inputNames, inputs, outputNames, null, outputPtr, runOptions);
        }
        var values = new OrtValue[outputs.Length];
        for (var i = 0; i < outputs.Length; i++)
        {
            values[i] = OrtValue.FromNative(outputs[i]);
        }
        return new OrtValueCollection(outputNames.ToArray(), values);
    }

    /// <summary>
    /// Runs the model writing into caller-owned, pre-allocated <paramref name="outputs"/> (e.g. tensors over
    /// reused arrays). Their shapes must match what the model produces. Allocates nothing per call when the names
    /// are the model's own.
    /// </summary>
    public void Run(IReadOnlyList<string> inputNames, IReadOnlyList<OrtValue> inputs, IReadOnlyList<string> outputNames,
        IReadOnlyList<OrtValue> outputs, RunOptions? runOptions = null)
    {
        if (outputs.Count != outputNames.Count)
        {
            throw new ArgumentException($"{outputNames.Count} output names but {outputs.Count} output values.", nameof(outputs));
        }
        var count = outputs.Count;
        Span<IntPtr> handles = count <= StackLimit ? stackalloc IntPtr[count] : new IntPtr[count];
        fixed (IntPtr* outputPtr = handles)
        {
            RunCore(inputNames, inputs, outputNames, outputs, outputPtr, runOptions);
        }
    }

    /// <summary>Stops profiling and returns the path of the JSON profile file ORT wrote.</summary>
    public string EndProfiling()
    {
        IntPtr path;
        var allocator = OrtEnvironment.Instance.DefaultAllocator;
        NativeApiStatus.VerifySuccess(OrtEnvironment.Api.SessionEndProfiling(Native, allocator, &path));
        return AllocatorStringHandle.TakeString(allocator, path);
    }

    /// <summary>Releases the native session and the cached names.</summary>
    public void Dispose()
    {
        _session.Dispose();
        foreach (var p in _nativeNames.Values)
        {
            Utf8.Free((byte*)p);
        }
        _nativeNames.Clear();
    }

    private IntPtr Native
    {
        get
        {
            ObjectDisposedException.ThrowIf(_session.IsClosed, this);
            return _session.DangerousGetHandle();
        }
    }

    private void RunCore(IReadOnlyList<string> inputNames, IReadOnlyList<OrtValue> inputs, IReadOnlyList<string> outputNames,
        IReadOnlyList<OrtValue>? preallocated, IntPtr* outputHandles, RunOptions? runOptions)
    {
        if (inputs.Count != inputNames.Count)
        {
            throw new ArgumentException($"{inputNames.Count} input names but {inputs.Count} input values.", nameof(inputs));
        }
        var nIn = inputNames.Count;
        var nOut = outputNames.Count;
        var nNames = nIn + nOut;
        // Name pointers (inputs then outputs), input handles, and which name pointers are temporary copies.
        Span<IntPtr> names = nNames <= StackLimit ? stackalloc IntPtr[nNames] : new IntPtr[nNames];
        Span<IntPtr> inputHandles = nIn <= StackLimit ? stackalloc IntPtr[nIn] : new IntPtr[nIn];
        Span<bool> temporary = nNames <= StackLimit ? stackalloc bool[nNames] : new bool[nNames];
        var nRefs = nIn + (preallocated?.Count ?? 0);
        Span<bool> addRefs = nRefs <= StackLimit ? stackalloc bool[nRefs] : new bool[nRefs];
        temporary.Clear();
        addRefs.Clear();

        var session = _session;
        var sessionRef = false;
        try
        {
            session.DangerousAddRef(ref sessionRef);
            for (var i = 0; i < nNames; i++)
            {
                var name = i < nIn ? inputNames[i] : outputNames[i - nIn];
                if (_nativeNames.TryGetValue(name, out var cached))
                {
                    names[i] = cached;
                }
                else
                {
                    names[i] = (IntPtr)Utf8.Alloc(name); // not a model name: ORT will reject it with its own message
                    temporary[i] = true;
                }
            }
            for (var i = 0; i < nIn; i++)
            {
                inputs[i].DangerousAddRef(ref addRefs[i]);
                inputHandles[i] = inputs[i].DangerousGetHandle();
            }
            for (var i = 0; i < nOut; i++)
            {
                if (preallocated is null)
                {
                    outputHandles[i] = IntPtr.Zero;
                }
                else
                {
                    preallocated[i].DangerousAddRef(ref addRefs[nIn + i]);
                    outputHandles[i] = preallocated[i].DangerousGetHandle();
                }
            }

            var options = runOptions?.Native ?? IntPtr.Zero;
            fixed (IntPtr* namePtr = names)
            fixed (IntPtr* inputPtr = inputHandles)
            {
                NativeApiStatus.VerifySuccess(OrtEnvironment.Api.Run(session.DangerousGetHandle(), options,
                    namePtr, inputPtr, (nuint)nIn, namePtr + nIn, (nuint)nOut, outputHandles));
            }
        }
        catch when (preallocated is null)
        {
            // Defensive: ORT leaves outputs null on failure, but never leak one it did create.
            for (var i = 0; i < nOut; i++)
            {
                if (outputHandles[i] != IntPtr.Zero)
                {
                    OrtEnvironment.Api.ReleaseValue(outputHandles[i]);
                    outputHandles[i] = IntPtr.Zero;
                }
            }
            throw;
        }
        finally
        {
            for (var i = 0; i < nNames; i++)
            {
                if (temporary[i])
                {
                    Utf8.Free((byte*)names[i]);
                }
            }
            for (var i = 0; i < nRefs; i++)
            {
                if (addRefs[i])
                {
                    (i < nIn ? inputs[i] : preallocated![i - nIn]).DangerousRelease();
                }
            }
            if (sessionRef)
            {
                session.DangerousRelease();
            }
        }
    }

    private IReadOnlyList<NodeMetadata> ReadMetadata(bool input)
    {
        var api = OrtEnvironment.Api;
        var allocator = OrtEnvironment.Instance.DefaultAllocator;
        var session = Native;
        nuint count;
        NativeApiStatus.VerifySuccess(input ? api.SessionGetInputCount(session, &count) : api.SessionGetOutputCount(session, &count));
        var result = new NodeMetadata[(int)count];
        for (nuint i = 0; i < count; i++)
        {
            IntPtr namePtr;
            NativeApiStatus.VerifySuccess(input
                ? api.SessionGetInputName(session, i, allocator, &namePtr)
                : api.SessionGetOutputName(session, i, allocator, &namePtr));
            var name = AllocatorStringHandle.TakeString(allocator, namePtr);

            IntPtr typeInfo;
            NativeApiStatus.VerifySuccess(input
                ? api.SessionGetInputTypeInfo(session, i, &typeInfo)
                : api.SessionGetOutputTypeInfo(session, i, &typeInfo));
            using var ownedTypeInfo = new TypeInfoHandle(typeInfo);
            result[(int)i] = ReadNode(name, typeInfo);
        }
        return result;
    }

    private static NodeMetadata ReadNode(string name, IntPtr typeInfo)
    {
        var api = OrtEnvironment.Api;
        int onnxType;
        NativeApiStatus.VerifySuccess(api.GetOnnxTypeFromTypeInfo(typeInfo, &onnxType));
        if ((OnnxValueType)onnxType != OnnxValueType.Tensor)
        {
            return new NodeMetadata(name, (OnnxValueType)onnxType, TensorElementType.Undefined, [], []);
        }

        IntPtr tensorInfo; // borrowed from typeInfo, not released separately
        NativeApiStatus.VerifySuccess(api.CastTypeInfoToTensorInfo(typeInfo, &tensorInfo));
        var info = OrtValue.ReadTensorInfo(tensorInfo);
        var symbols = new IntPtr[info.Shape.Length];
        fixed (IntPtr* p = symbols)
        {
            NativeApiStatus.VerifySuccess(api.GetSymbolicDimensions(tensorInfo, (byte**)p, (nuint)symbols.Length));
        }
        var symbolic = symbols.Select(s => s == IntPtr.Zero ? string.Empty : Utf8.FromNative((byte*)s)).ToArray();
        return new NodeMetadata(name, OnnxValueType.Tensor, info.ElementType, info.Shape, symbolic);
    }

    private static SessionHandle CreateFromPath(string modelPath, SessionOptions? options)
    {
        if (!File.Exists(modelPath))
        {
            throw new FileNotFoundException($"Model file '{Path.GetFullPath(modelPath)}' does not exist.", modelPath);
        }
        return WithOptions(options, (env, opts) =>
        {
            IntPtr session;
            using var path = new NativeUtf8(modelPath);
            NativeApiStatus.VerifySuccess(OrtEnvironment.Api.CreateSession(env, path.Pointer, opts, &session));
            return session;
        });
    }

    private static SessionHandle CreateFromBytes(byte[] model, SessionOptions? options)
    {
        ArgumentNullException.ThrowIfNull(model);
        return WithOptions(options, (env, opts) =>
        {
            IntPtr session;
            fixed (byte* data = model)
            {
                NativeApiStatus.VerifySuccess(OrtEnvironment.Api.CreateSessionFromArray(env, data, (nuint)model.Length, opts, &session));
            }
            return session;
        });
    }

    private static SessionHandle WithOptions(SessionOptions? options, Func<IntPtr, IntPtr, IntPtr> create)
    {
        var env = OrtEnvironment.Instance;
        var owned = options is null ? new SessionOptions() : null;
        try
        {
            return new SessionHandle(create(env.Handle.DangerousGetHandle(), (options ?? owned!).Native));
        }
        finally
        {
            owned?.Dispose();
        }
    }

    private static ProviderSelection SelectionOf(SessionOptions? options)
    {
        var providers = options?.AppendedProviders ?? [];
        return new ProviderSelection(providers, [.. providers, ExecutionProviders.CpuOrtName], []);
    }

    private static InferenceSession CreateWithFallback(SessionConfig config, Func<SessionOptions, SessionHandle> create)
    {
        ProviderSelection selection;
        using (var options = config.CreateOptions(out selection))
        {
            try
            {
                return new InferenceSession(create(options), selection);
            }
            catch (OnnxRuntimeException e) when (!config.StrictProviders && options.AppendedProviders.Count > 0)
            {
                var warning = $"Creating the session with {string.Join(", ", options.AppendedProviders)} failed: " +
                              $"{e.NativeMessage} Falling back to {ExecutionProviders.CpuOrtName}.";
                selection = selection.WithFallbackToCpu(warning);
            }
            catch (OnnxRuntimeException e) when (e is not ExecutionProviderException && options.AppendedProviders.Count > 0)
            {
                throw new ExecutionProviderException(string.Join(",", options.AppendedProviders), e.ErrorCode,
                    $"Creating the session with {string.Join(", ", options.AppendedProviders)} failed (strict provider " +
                    $"selection, no CPU fallback): {e.NativeMessage}", e);
            }
        }
        using var cpuOnly = config.CreateOptions([], out _, cpuFallback: true);
        return new InferenceSession(create(cpuOnly), selection);
    }
}
