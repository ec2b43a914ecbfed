using System.Collections;
using System.Globalization;
using CausalTap.Protocol.V1;
using Microsoft.Extensions.Configuration;

namespace CausalTap.Server;

/// <summary>
/// Reads <see cref="TrackerServerOptions"/> from three layers, later ones winning: a JSON file (flat object of the
/// keys below), environment variables (<c>CAUSALTAP_</c> + the key in upper case, e.g. <c>CAUSALTAP_PORT</c>,
/// <c>CAUSALTAP_AUTH_TOKEN</c>), then explicit overrides (the command-line flags). Keys are case-insensitive.
/// </summary>
public static class ServerConfiguration
{
    /// <summary>Prefix of the environment variables that configure the server.</summary>
    public const string EnvironmentPrefix = "CAUSALTAP_";

    /// <summary>The JSON file read from the working directory when no --config is given (only if present).</summary>
    public const string DefaultConfigFile = "causaltap.json";

    /// <summary>Every configuration key, for docs and for rejecting typos in JSON files.</summary>
    public static IReadOnlyList<string> Keys { get; } =
    [
        "host", "port", "models_dir", "default_model", "provider", "threads", "episodes_dir", "max_sessions",
        "max_points_per_session", "max_message_bytes", "max_concurrent_streams", "max_connections", "keepalive_s", "max_frame_width", "max_frame_height", "ingest_queue_frames",
        "ingest_policy", "subscriber_queue_updates", "idle_timeout_s", "max_capture_ahead_s", "clock_step_s", "tls_cert", "tls_key", "auth_token",
        "auth_token_file", "allow_insecure", "shutdown_timeout_s",
    ];

    /// <summary>
    /// Builds the layered configuration. <paramref name="configPath"/> must exist when given; without it
    /// <see cref="DefaultConfigFile"/> in <paramref name="workingDirectory"/> is used when present.
    /// <paramref name="environment"/> defaults to the process environment (tests pass their own).
    /// </summary>
    public static IConfiguration Build(string? configPath, IReadOnlyDictionary<string, string?>? overrides = null,
        IDictionary? environment = null, string? workingDirectory = null)
    {
        var builder = new ConfigurationBuilder();
        string? jsonPath = configPath;
        if (jsonPath is null)
        {
            string candidate = Path.Combine(workingDirectory ?? Directory.GetCurrentDirectory(), DefaultConfigFile);
            if (File.Exists(candidate)) jsonPath = candidate;
        }
        else if (!File.Exists(jsonPath))
        {
            throw new ServerConfigurationException($"config file '{Path.GetFullPath(jsonPath)}' does not exist");
        }
        if (jsonPath is not null)
        {
            builder.AddJsonFile(Path.GetFullPath(jsonPath), optional: false, reloadOnChange: false);
        }

        // Same effect as AddEnvironmentVariables(prefix), but from a dictionary so tests need not touch the process.
        var fromEnvironment = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        foreach (DictionaryEntry entry in environment ?? Environment.GetEnvironmentVariables())
        {
            if (entry.Key is string key && key.StartsWith(EnvironmentPrefix, StringComparison.OrdinalIgnoreCase))
            {
                fromEnvironment[key[EnvironmentPrefix.Length..].ToLowerInvariant()] = entry.Value as string;
            }
        }
        builder.AddInMemoryCollection(fromEnvironment);
        if (overrides is not null) builder.AddInMemoryCollection(overrides.Where(kv => kv.Value is not null));

        try
        {
            IConfigurationRoot root = builder.Build();
            if (jsonPath is not null) CheckJsonKeys(root, jsonPath);
            return root;
        }
        catch (Exception ex) when (ex is InvalidDataException or FormatException or System.Text.Json.JsonException)
        {
            throw new ServerConfigurationException($"config file '{jsonPath}' is not valid JSON: {ex.Message}");
        }
    }

    /// <summary>Reads the options; missing keys keep the values of <paramref name="defaults"/> (or the built-in defaults).</summary>
    public static TrackerServerOptions Bind(IConfiguration configuration, TrackerServerOptions? defaults = null)
    {
        TrackerServerOptions o = defaults ?? new TrackerServerOptions();
        o.Host = String(configuration, "host") ?? o.Host;
        o.Port = Int(configuration, "port") ?? o.Port;
        o.ModelsDirectory = String(configuration, "models_dir") ?? o.ModelsDirectory;
        o.DefaultModel = String(configuration, "default_model") ?? o.DefaultModel;
        o.Provider = String(configuration, "provider") ?? o.Provider;
        o.Threads = Int(configuration, "threads") ?? o.Threads;
        o.EpisodesDirectory = String(configuration, "episodes_dir") ?? o.EpisodesDirectory;
        o.MaxSessions = Int(configuration, "max_sessions") ?? o.MaxSessions;
        o.MaxPointsPerSession = Int(configuration, "max_points_per_session") ?? o.MaxPointsPerSession;
        o.MaxMessageBytes = Int(configuration, "max_message_bytes") ?? o.MaxMessageBytes;
        o.MaxConcurrentStreams = Int(configuration, "max_concurrent_streams") ?? o.MaxConcurrentStreams;
        o.MaxConnections = Int(configuration, "max_connections") ?? o.MaxConnections;
        o.KeepAlivePingInterval = Seconds(configuration, "keepalive_s") ?? o.KeepAlivePingInterval;
        o.MaxFrameWidth = Int(configuration, "max_frame_width") ?? o.MaxFrameWidth;
        o.MaxFrameHeight = Int(configuration, "max_frame_height") ?? o.MaxFrameHeight;
        o.IngestQueueFrames = Int(configuration, "ingest_queue_frames") ?? o.IngestQueueFrames;
        o.IngestPolicy = Policy(configuration, "ingest_policy") ?? o.IngestPolicy;
        o.SubscriberQueueUpdates = Int(configuration, "subscriber_queue_updates") ?? o.SubscriberQueueUpdates;
        o.SessionIdleTimeout = Seconds(configuration, "idle_timeout_s") ?? o.SessionIdleTimeout;
        o.MaxCaptureAhead = Seconds(configuration, "max_capture_ahead_s") ?? o.MaxCaptureAhead;
        o.ClockStep = Seconds(configuration, "clock_step_s") ?? o.ClockStep;
        o.ShutdownTimeout = Seconds(configuration, "shutdown_timeout_s") ?? o.ShutdownTimeout;
        o.TlsCertificatePath = String(configuration, "tls_cert") ?? o.TlsCertificatePath;
        o.TlsKeyPath = String(configuration, "tls_key") ?? o.TlsKeyPath;
        o.AllowInsecure = Bool(configuration, "allow_insecure") ?? o.AllowInsecure;
        o.AuthToken = String(configuration, "auth_token") ?? o.AuthToken;
        if (String(configuration, "auth_token_file") is { } tokenFile)
        {
            if (o.AuthToken is not null) throw new ServerConfigurationException("give auth_token or auth_token_file, not both");
            try
            {
                o.AuthToken = File.ReadAllText(tokenFile).Trim();
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw new ServerConfigurationException($"auth_token_file '{tokenFile}' cannot be read: {ex.Message}");
            }
        }
        o.Validate();
        return o;
    }

    /// <summary>Unknown keys in the JSON file are almost always typos: say so instead of silently ignoring them.</summary>
    private static void CheckJsonKeys(IConfigurationRoot root, string jsonPath)
    {
        foreach (IConfigurationProvider provider in root.Providers)
        {
            if (provider is not Microsoft.Extensions.Configuration.Json.JsonConfigurationProvider) continue;
            foreach (string key in provider.GetChildKeys([], null).Distinct(StringComparer.OrdinalIgnoreCase))
            {
                if (!Keys.Contains(key, StringComparer.OrdinalIgnoreCase))
                    throw new ServerConfigurationException($"config file '{jsonPath}': unknown key '{key}' (known: {string.Join(", ", Keys)})");
            }
        }
    }

    private static string? String(IConfiguration c, string key) => c[key] is { Length: > 0 } v ? v : null;

    private static int? Int(IConfiguration c, string key)
    {
        if (String(c, key) is not { } v) return null;
        return int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out int n)
            ? n
            : throw new ServerConfigurationException($"{key}: '{v}' is not an integer");
    }

    private static bool? Bool(IConfiguration c, string key)
    {
        if (String(c, key) is not { } v) return null;
        return v.Trim().ToLowerInvariant() switch
        {
            "true" or "1" or "yes" => true,
            "false" or "0" or "no" => false,
            _ => throw new ServerConfigurationException($"{key}: '{v}' is not true/false"),
        };
    }

    private static TimeSpan? Seconds(IConfiguration c, string key)
    {
        if (String(c, key) is not { } v) return null;
        return double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out double s) && double.IsFinite(s)
            ? TimeSpan.FromSeconds(s)
            : throw new ServerConfigurationException($"{key}: '{v}' is not a number of seconds");
    }

    private static IngestPolicy? Policy(IConfiguration c, string key)
    {
        if (String(c, key) is not { } v) return null;
        return v.Trim().ToLowerInvariant().Replace('-', '_') switch
        {
            "drop_oldest" => IngestPolicy.DropOldest,
            "block" => IngestPolicy.Block,
            _ => throw new ServerConfigurationException($"{key}: '{v}' is not drop_oldest or block"),
        };
    }
}
