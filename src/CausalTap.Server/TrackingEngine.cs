using CausalTap.Pipeline;
using CausalTap.Imaging;
using CausalTap.Tracking;
using CausalTap.Tracking.Inference;
using Microsoft.ML.OnnxRuntime;

namespace CausalTap.Server;

/// <summary>Creates the engine of a new session; resolves names and defaults and says what it actually used.</summary>
internal interface ITrackingEngineFactory : IDisposable
{
    /// <summary>
    /// Creates an engine for <paramref name="model"/> (empty = default) on <paramref name="provider"/> (empty = default)
    /// with <paramref name="method"/> (null = the model's best). Throws <see cref="RejectionException"/> with
    /// NOT_FOUND for an unknown model and INVALID_ARGUMENT for a method the model cannot run.
    /// </summary>
    EngineLease Create(string model, string provider, TrackingMethod? method);
}

/// <summary>A new engine plus the model, provider and method it really runs.</summary>
internal sealed record EngineLease(IFrameTracker Engine, string Model, string Provider, TrackingMethod Method, int InputWidth, int InputHeight);

/// <summary>
/// Loads each (model, provider) pair once and shares the <see cref="TrackerModel"/> (its ONNX Runtime sessions are
/// safe to run from several threads) between sessions; each session gets its own <see cref="StreamTracker"/>.
/// Models stay loaded until the server stops.
/// </summary>
internal sealed class ModelCache : ITrackingEngineFactory
{
    /// <summary>Loaded models by (model directory name, requested provider); guarded by itself.</summary>
    private readonly Dictionary<(string Model, string Provider), Lazy<TrackerModel>> _models = new();
    private readonly TrackerServerOptions _options;
    /// <summary>Told (model, provider choice) after each load, for the log.</summary>
    private readonly Action<string, string> _loaded;

    public ModelCache(TrackerServerOptions options, Action<string, string> loaded)
    {
        _options = options;
        _loaded = loaded;
        DefaultModelName = ModelCatalog.DefaultName(options.ModelsDirectory, options.DefaultModel);
    }

    /// <summary>The default model's directory name, or null when the models folder has no unambiguous default.</summary>
    public string? DefaultModelName { get; }

    /// <summary>The model directories found in the models folder (unreadable ones skipped).</summary>
    public IReadOnlyList<ModelDirectory> ListModels() =>
        Directory.Exists(_options.ModelsDirectory) ? ModelDirectory.List(_options.ModelsDirectory) : [];

    /// <summary>Loads (once) and returns the model for (name, provider); empty strings mean the defaults.</summary>
    public TrackerModel Get(string model, string provider, out string modelName, out string providerName)
    {
        modelName = string.IsNullOrEmpty(model) ? DefaultModelName
            ?? throw new RejectionException(RejectionKind.FailedPrecondition,
                $"no default model: the models folder '{_options.ModelsDirectory}' has no model marked default; name one in the request")
            : model;
        providerName = string.IsNullOrEmpty(provider) ? _options.Provider : provider.Trim().ToLowerInvariant();
        if (modelName.Contains('/') || modelName.Contains('\\') || modelName is "." or "..")
            throw new RejectionException(RejectionKind.InvalidArgument, $"model '{modelName}' must be a model name, not a path");
        string directory = Path.Combine(_options.ModelsDirectory, modelName);
        if (!File.Exists(Path.Combine(directory, "model.json")))
        {
            string names = string.Join(", ", ListModels().Select(m => m.Name));
            throw new RejectionException(RejectionKind.NotFound, $"model '{modelName}' not found in the server's models folder (available: {names})");
        }
        Lazy<TrackerModel> lazy;
        string name = modelName, prov = providerName;
        lock (_models)
        {
            if (!_models.TryGetValue((name, prov), out lazy!))
            {
                lazy = new Lazy<TrackerModel>(() => Load(directory, prov), LazyThreadSafetyMode.ExecutionAndPublication);
                _models[(name, prov)] = lazy;
            }
        }
        try
        {
            return lazy.Value;
        }
        catch
        {
            lock (_models) _models.Remove((name, prov)); // let a later request retry (e.g. after fixing the files)
            throw;
        }
    }

    public EngineLease Create(string model, string provider, TrackingMethod? method)
    {
        TrackerModel loaded = Get(model, provider, out string modelName, out _);
        TrackingMethod chosen = TrackingMethods.Choose(method, null, loaded.HasTapir, loaded.HasGmrw);
        if (!TrackingMethods.CanRun(chosen, loaded.HasTapir, loaded.HasGmrw))
        {
            throw new RejectionException(RejectionKind.InvalidArgument,
                $"model '{modelName}' cannot run method {chosen}: it needs {TrackingMethods.Needs(chosen)} and the model has {TrackingMethods.Families(loaded.HasTapir, loaded.HasGmrw)}");
        }
        var engine = new StreamFrameTracker(new StreamTracker(loaded, chosen));
        // Report the provider really used ("auto" resolves to tensorrt, cuda or cpu).
        return new EngineLease(engine, modelName, loaded.Provider.Provider, chosen, loaded.InputWidth, loaded.InputHeight);
    }

    private TrackerModel Load(string directory, string provider)
    {
        try
        {
            TrackerModel model = TrackerModel.Load(ModelDirectory.Open(directory), new TrackerOptions(provider, _options.Threads));
            _loaded(Path.GetFileName(directory), model.Provider.ToString());
            return model;
        }
        catch (ModelLoadException ex)
        {
            throw new RejectionException(RejectionKind.FailedPrecondition, $"model in '{directory}' cannot be loaded: {ex.Message}");
        }
        catch (ProviderUnavailableException ex)
        {
            throw new RejectionException(RejectionKind.FailedPrecondition, ex.Message);
        }
        catch (ArgumentException ex)
        {
            throw new RejectionException(RejectionKind.InvalidArgument, ex.Message); // unknown provider name
        }
        catch (OnnxRuntimeException ex)
        {
            throw new RejectionException(RejectionKind.Unavailable, $"provider '{provider}' cannot run model '{directory}': {ex.Message}");
        }
    }

    public void Dispose()
    {
        lock (_models)
        {
            foreach (Lazy<TrackerModel> lazy in _models.Values)
            {
                if (lazy.IsValueCreated) lazy.Value.Dispose();
            }
            _models.Clear();
        }
    }
}
