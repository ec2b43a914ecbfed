using CausalTap.Protocol.V1;

namespace CausalTap.Server;

/// <summary>
/// Everything the server can be configured with. <see cref="ServerConfiguration"/> fills it from a JSON file, the
/// environment (CAUSALTAP_*) and command-line flags; tests set it directly. Defaults are the documented ones
/// (src/CausalTap.Server/README.md has the table with the configuration keys).
/// </summary>
public sealed class TrackerServerOptions
{
    /// <summary>Address to bind: an IP, "localhost" or "*"/"0.0.0.0" for every interface.</summary>
    public string Host { get; set; } = "127.0.0.1";

    /// <summary>TCP port; 0 picks a free one (tests).</summary>
    public int Port { get; set; } = 50051;

    /// <summary>Folder of model directories (models/&lt;name&gt;/model.json).</summary>
    public string ModelsDirectory { get; set; } = "models";

    /// <summary>Model used when OpenSession names none; null = the model marked default, "causaltap-default", or the only one.</summary>
    public string? DefaultModel { get; set; }

    /// <summary>Execution provider used when OpenSession names none: auto (TensorRT, else CUDA, else CPU), cpu, cuda or tensorrt.</summary>
    public string Provider { get; set; } = "auto";

    /// <summary>
    /// Intra-op threads per ONNX Runtime session (0 = ONNX Runtime default: one per core). Default 1: each stream's
    /// engine runs on its own thread and streams run in parallel; a multi-threaded ORT pool spins on every core and,
    /// on a small machine, collides with the gRPC I/O threads (measured on 2 cores, 256 points, 1 stream at 30 fps:
    /// p99 receive->publish 26.5 ms with 1 thread, 116.7 ms with 2). Raise it for one stream on a many-core host.
    /// </summary>
    public int Threads { get; set; } = 1;

    /// <summary>Where recordings go and where Replay/ListEpisodes look.</summary>
    public string EpisodesDirectory { get; set; } = "episodes";

    /// <summary>Open sessions at most; one more is RESOURCE_EXHAUSTED.</summary>
    public int MaxSessions { get; set; } = 16;

    /// <summary>Query points per session at most; more is RESOURCE_EXHAUSTED.</summary>
    public int MaxPointsPerSession { get; set; } = 256;

    /// <summary>Largest gRPC message in either direction (bytes); a larger request is RESOURCE_EXHAUSTED.</summary>
    public int MaxMessageBytes { get; set; } = 16 * 1024 * 1024;

    /// <summary>Kestrel: concurrent HTTP/2 streams (calls) per client connection; more wait for a free stream.</summary>
    public int MaxConcurrentStreams { get; set; } = 100;

    /// <summary>Kestrel: client connections at most (null = unlimited).</summary>
    public long? MaxConnections { get; set; }

    /// <summary>
    /// Kestrel: send an HTTP/2 PING after this much silence on a connection, so a dead peer (a robot that lost
    /// power) is noticed; zero = off.
    /// </summary>
    public TimeSpan KeepAlivePingInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Largest accepted frame width (pixels).</summary>
    public int MaxFrameWidth { get; set; } = 4096;

    /// <summary>Largest accepted frame height (pixels).</summary>
    public int MaxFrameHeight { get; set; } = 4096;

    /// <summary>Default ingest queue depth (frames waiting for the engine).</summary>
    public int IngestQueueFrames { get; set; } = 2;

    /// <summary>Default ingest policy when OpenSession leaves it unspecified.</summary>
    public IngestPolicy IngestPolicy { get; set; } = IngestPolicy.DropOldest;

    /// <summary>Default per-subscriber latest-wins queue depth (updates).</summary>
    public int SubscriberQueueUpdates { get; set; } = 2;

    /// <summary>A session with no frames and no calls for this long is closed ("idle timeout"); zero or less = never.</summary>
    public TimeSpan SessionIdleTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>A frame stamped further ahead of the server's clock than this is rejected alone (OUT_OF_RANGE) and does not
    /// move the session's capture clock (proto: clock rules).</summary>
    public TimeSpan MaxCaptureAhead { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>A capture time further back than this behind the previous frame is a clock step: the session re-bases on
    /// it with a warning and a CLOCK_REBASED notice. Less is a reordering: OUT_OF_RANGE.</summary>
    public TimeSpan ClockStep { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How often idle sessions are looked for.</summary>
    public TimeSpan IdleCheckInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>PEM certificate chain for TLS; null = cleartext HTTP/2 (h2c).</summary>
    public string? TlsCertificatePath { get; set; }

    /// <summary>PEM private key for <see cref="TlsCertificatePath"/> (may be the same file).</summary>
    public string? TlsKeyPath { get; set; }

    /// <summary>Bearer token every call except health must carry; null = no auth.</summary>
    public string? AuthToken { get; set; }

    /// <summary>Allows binding a non-loopback address without TLS, with or without a token (refused otherwise).</summary>
    public bool AllowInsecure { get; set; }

    /// <summary>How long a graceful shutdown waits for queued frames and running calls before it cuts them off.</summary>
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Clock for timestamps and idle timeouts (tests swap in a manual one).</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>Whether TLS is configured.</summary>
    public bool TlsEnabled => !string.IsNullOrEmpty(TlsCertificatePath);

    /// <summary>Checks ranges and combinations; throws <see cref="ServerConfigurationException"/> naming the key.</summary>
    public void Validate()
    {
        static void Positive(int value, string key)
        {
            if (value <= 0) throw new ServerConfigurationException($"{key} must be positive, got {value}");
        }
        if (Port is < 0 or > 65535) throw new ServerConfigurationException($"port must be in 0..65535, got {Port}");
        Positive(MaxSessions, "max_sessions");
        Positive(MaxPointsPerSession, "max_points_per_session");
        Positive(MaxFrameWidth, "max_frame_width");
        Positive(MaxFrameHeight, "max_frame_height");
        Positive(IngestQueueFrames, "ingest_queue_frames");
        Positive(MaxConcurrentStreams, "max_concurrent_streams");
        if (MaxConnections is <= 0) throw new ServerConfigurationException($"max_connections must be positive, got {MaxConnections}");
        if (KeepAlivePingInterval < TimeSpan.Zero) throw new ServerConfigurationException("keepalive_s must not be negative");
        Positive(SubscriberQueueUpdates, "subscriber_queue_updates");
        if (MaxCaptureAhead <= TimeSpan.Zero) throw new ServerConfigurationException("max_capture_ahead_s must be positive");
        if (ClockStep <= TimeSpan.Zero) throw new ServerConfigurationException("clock_step_s must be positive");
        if (MaxMessageBytes < 1024) throw new ServerConfigurationException($"max_message_bytes must be at least 1024, got {MaxMessageBytes}");
        if (Threads < 0) throw new ServerConfigurationException($"threads must be >= 0, got {Threads}");
        try
        {
            Provider = CausalTap.Tracking.Inference.ExecutionProviders.Normalize(Provider); // a typo fails here, not per session
        }
        catch (ArgumentException ex)
        {
            throw new ServerConfigurationException($"provider: {ex.Message}");
        }
        if (IngestPolicy == IngestPolicy.Unspecified) IngestPolicy = IngestPolicy.DropOldest;
        if (!TlsEnabled && !string.IsNullOrEmpty(TlsKeyPath))
            throw new ServerConfigurationException("tls_key is set but tls_cert is not: give both (PEM files)");
        if (AuthToken is { } token && (token.Length == 0 || token.Any(c => c < 0x21 || c > 0x7E)))
            throw new ServerConfigurationException("auth token must be non-empty printable ASCII without spaces");
    }
}

/// <summary>A configuration value is missing, malformed or out of range; the message names the key.</summary>
public sealed class ServerConfigurationException(string message) : Exception(message);
