using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Net.Security;
using System.Runtime.InteropServices;
using System.Security.Cryptography.X509Certificates;
using Grpc.Core;
using Grpc.Net.Client;
using CausalTap.Imaging;
using CausalTap.Imaging.Video;
using CausalTap.Protocol.V1;
using Google.Protobuf;

namespace CausalTap.Cli;

/// <summary>
/// <c>causaltap stream SOURCE --server ADDR</c>: a camera node. Reads a video file, a folder of JPEG/PNG frames,
/// a V4L2 device (<c>/dev/videoN</c>) or an ffmpeg test source (<c>lavfi:testsrc2=size=640x480:rate=30</c>),
/// paces it at the source rate, and sends every frame over one <c>StreamFrames</c> call. Prints the session id
/// first (so a controller can subscribe from another terminal), then one statistics line per second.
/// </summary>
internal static class StreamCommand
{
    public sealed record Settings(
        string Source, string? SessionId, string CameraId, string? Model, bool Record, StreamImageFormat Format,
        double Fps, bool Loop, IReadOnlyList<PointQuery> Points, int Grid, int ScaleWidth, int MaxFrames, bool KeepOpen);

    public static Command Create()
    {
        var source = new Argument<string>("source") { Description = "Video file, folder of JPEG/PNG frames, V4L2 device (/dev/videoN) or lavfi:FILTER (ffmpeg test source)." };
        var connection = new ServerConnectionOptions();
        var session = new Option<string?>("--session") { Description = "Stream into this existing session instead of opening one." };
        var cameraId = new Option<string?>("--camera-id") { Description = "Camera name of the new session (default: the source's file name)." };
        var model = new Option<string?>("--model") { Description = "Model of the new session (default: the server's default model)." };
        var record = new Option<bool>("--record") { Description = "Record the new session as an episode on the server." };
        var format = new Option<string>("--format") { Description = "Frame encoding on the wire: jpeg or raw (RGB8).", DefaultValueFactory = _ => "jpeg" };
        var fps = new Option<double>("--fps") { Description = "Send rate in frames per second (default: the source's rate; a device is read as fast as it delivers)." };
        var loop = new Option<bool>("--loop") { Description = "Start the file or folder again at its end (until Ctrl+C or --max-frames)." };
        var points = new Option<string?>("--points") { Description = "Query points in source pixels, \"x,y;x,y\", added after the first frame." };
        var grid = new Option<int>("--grid") { Description = "Add an N x N grid of query points (cell centres) after the first frame." };
        var width = new Option<int>("--width") { Description = "Scale video/device frames to this width before sending (keeps the aspect ratio; 0 = as is)." };
        var maxFrames = new Option<int>("--max-frames") { Description = "Stop after this many frames (0 = at the end of the source)." };
        var keepOpen = new Option<bool>("--keep-open") { Description = "Do not close the session this command opened when streaming ends." };
        format.AcceptOnlyFromAmong("jpeg", "raw");
        fps.Validators.Add(r => { if (r.GetValueOrDefault<double>() is < 0 or > 1000) r.AddError("--fps must be in 0..1000."); });
        grid.Validators.Add(r => { if (r.GetValueOrDefault<int>() is < 0 or > 64) r.AddError("--grid must be in 0..64."); });
        width.Validators.Add(r => { int w = r.GetValueOrDefault<int>(); if (w < 0 || w % 2 == 1 || w > 8192) r.AddError("--width must be an even number in 0..8192."); });
        maxFrames.Validators.Add(r => { if (r.GetValueOrDefault<int>() < 0) r.AddError("--max-frames must be >= 0."); });
        points.Validators.Add(r =>
        {
            if (!PointList.TryParse(r.GetValueOrDefault<string?>(), out _, out string? error)) r.AddError($"--points: {error}");
        });

        var command = new Command("stream", "Camera node: stream a video file, frame folder or V4L2 device to a server session (StreamFrames), paced at the source rate.")
        {
            source, session, cameraId, model, record, format, fps, loop, points, grid, width, maxFrames, keepOpen,
        };
        connection.AddTo(command);
        command.SetAction((parse, ct) => ClientErrors.RunAsync(ct, async ct =>
        {
            string src = parse.GetValue(source)!;
            PointList.TryParse(parse.GetValue(points), out List<PointQuery> pointList, out _);
            var settings = new Settings(src, parse.GetValue(session), parse.GetValue(cameraId) ?? DefaultCameraId(src), parse.GetValue(model),
                parse.GetValue(record), parse.GetValue(format) == "raw" ? StreamImageFormat.Raw : StreamImageFormat.Jpeg,
                parse.GetValue(fps), parse.GetValue(loop), pointList, parse.GetValue(grid), parse.GetValue(width),
                parse.GetValue(maxFrames), parse.GetValue(keepOpen));
            using ServerConnection server = connection.Connect(parse);
            return await RunAsync(settings, server, Console.Out, ct);
        }));
        return command;
    }

    private static string DefaultCameraId(string source) =>
        source.StartsWith("lavfi:", StringComparison.Ordinal) ? "testsrc" : Path.GetFileNameWithoutExtension(source.TrimEnd('/')) is { Length: > 0 } n ? n : "camera";

    /// <summary>Streams <paramref name="settings"/>.Source; returns the exit code.</summary>
    public static async Task<int> RunAsync(Settings settings, ServerConnection server, TextWriter output, CancellationToken ct)
    {
        IStreamFrameSource source = StreamFrameSources.Open(settings.Source, settings.Format, settings.ScaleWidth);
        try
        {
            if (!source.TryRead(out SourceFrame first))
            {
                throw new CliException($"'{settings.Source}' has no frames.");
            }

            string sessionId;
            bool ownSession = settings.SessionId is null;
            if (ownSession)
            {
                var open = new OpenSessionRequest
                {
                    CameraId = settings.CameraId, Model = settings.Model ?? "", Record = settings.Record,
                    FrameWidth = (uint)first.Width, FrameHeight = (uint)first.Height,
                };
                SessionInfo info = await server.Client.OpenSessionAsync(open, server.CallOptions(ct));
                sessionId = info.SessionId;
                output.WriteLine($"session {sessionId}");
                output.WriteLine($"model {info.Model}, method {info.Method}, provider {info.Provider}, frames {first.Width}x{first.Height} {settings.Format.ToString().ToLowerInvariant()}" +
                                 (info.EpisodePath.Length > 0 ? $", recording {info.EpisodePath}" : ""));
            }
            else
            {
                sessionId = settings.SessionId!;
                output.WriteLine($"session {sessionId}");
            }
            output.Flush();

            double fps = settings.Fps > 0 ? settings.Fps : source.IsLive ? 0 : source.FramesPerSecond > 0 ? source.FramesPerSecond : 30;
            var counters = new StreamCounters();
            using var statsStop = CancellationTokenSource.CreateLinkedTokenSource(ct);
            Task statsPrinter = PrintStatsEverySecondAsync(server, sessionId, counters, output, statsStop.Token);

            IngestSummary summary;
            try
            {
                summary = await SendFramesAsync(settings, server, source, first, sessionId, fps, counters, output, ct);
            }
            finally
            {
                await statsStop.CancelAsync();
                await statsPrinter;
            }
            output.WriteLine($"sent {counters.Sent} frames: queued {summary.FramesQueued}, dropped {summary.FramesDropped}, rejected {summary.FramesRejected}" +
                             (summary.LastRejection is { } r ? $" (last rejection: frame {r.Sequence}: {r.Message})" : ""));

            if (ownSession && !settings.KeepOpen)
            {
                // After Ctrl+C there is little time (System.CommandLine ends the process 2 s after the signal).
                await WaitUntilDrainedAsync(server, sessionId, TimeSpan.FromSeconds(ct.IsCancellationRequested ? 1 : 10), CancellationToken.None);
                SessionInfo closed = await server.Client.CloseSessionAsync(new CloseSessionRequest { SessionId = sessionId }, server.CallOptions(CancellationToken.None));
                output.WriteLine($"closed: {FormatStats(closed.Stats)}" + (closed.EpisodePath.Length > 0 ? $", episode {closed.EpisodePath}" : ""));
            }
            return 0;
        }
        finally
        {
            source.Dispose();
        }
    }

    private static async Task<IngestSummary> SendFramesAsync(Settings settings, ServerConnection server, IStreamFrameSource source, SourceFrame first,
        string sessionId, double fps, StreamCounters counters, TextWriter output, CancellationToken ct)
    {
        // The call is not tied to ct: on Ctrl+C we stop sending and complete the call so the summary still comes back.
        using AsyncClientStreamingCall<Frame, IngestSummary> call = server.Client.StreamFrames(server.CallOptions(CancellationToken.None));
        long startTicks = Stopwatch.GetTimestamp();
        SourceFrame frame = first;
        IStreamFrameSource current = source; // replaced by a fresh one on --loop; the caller disposes the first
        bool pointsSent = settings.Points.Count == 0 && settings.Grid == 0;
        try
        {
            for (long index = 0; ; index++)
            {
                if (fps > 0)
                {
                    // Pace on the absolute schedule start + i/fps so a slow frame does not shift every later one.
                    TimeSpan due = TimeSpan.FromSeconds(index / fps) - Stopwatch.GetElapsedTime(startTicks);
                    if (due > TimeSpan.Zero) await Task.Delay(due, ct);
                }
                if (ct.IsCancellationRequested) break;
                // No token on the write: cancelling a write cancels the whole call, and Ctrl+C should end it cleanly.
                var message = frame.ToFrame(sessionId, WallClock.NowNs(), (ulong)index);
                await call.RequestStream.WriteAsync(message);
                Interlocked.Increment(ref counters.Sent);

                if (!pointsSent)
                {
                    pointsSent = true;
                    var request = new AddPointsRequest { SessionId = sessionId };
                    request.Points.AddRange(settings.Points);
                    request.Points.AddRange(PointList.Grid(settings.Grid, first.Width, first.Height));
                    AddPointsResponse added = await server.Client.AddPointsAsync(request, server.CallOptions(CancellationToken.None));
                    output.WriteLine($"points {added.PointIds.Count} added (ids {FormatIdRange(added.PointIds)}) at frame {added.QueryFrameIndex}");
                }

                if (settings.MaxFrames > 0 && index + 1 >= settings.MaxFrames) break;
                if (!current.TryRead(out frame))
                {
                    if (!settings.Loop || current.IsLive) break;
                    if (!ReferenceEquals(current, source)) current.Dispose();
                    current = StreamFrameSources.Open(settings.Source, settings.Format, settings.ScaleWidth);
                    if (!current.TryRead(out frame)) break;
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // Ctrl+C: finish the call normally below.
        }
        finally
        {
            if (!ReferenceEquals(current, source)) current.Dispose();
        }
        await call.RequestStream.CompleteAsync();
        return await call.ResponseAsync;
    }

    private static async Task PrintStatsEverySecondAsync(ServerConnection server, string sessionId, StreamCounters counters, TextWriter output, CancellationToken ct)
    {
        long start = Stopwatch.GetTimestamp();
        try
        {
            while (true)
            {
                await Task.Delay(TimeSpan.FromSeconds(1), ct);
                SessionInfo info = await server.Client.GetSessionAsync(new GetSessionRequest { SessionId = sessionId }, server.CallOptions(ct));
                output.WriteLine($"{Stopwatch.GetElapsedTime(start).TotalSeconds,5:F1}s sent {Volatile.Read(ref counters.Sent)}  {FormatStats(info.Stats)}");
                output.Flush();
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (RpcException e) when (!ct.IsCancellationRequested)
        {
            output.WriteLine($"warning: statistics unavailable: {e.Status.StatusCode} {e.Status.Detail}");
        }
        catch (RpcException)
        {
            // The call was cancelled because streaming ended.
        }
    }

    /// <summary>Waits until the server has processed, dropped or rejected every frame it received (or the timeout).</summary>
    private static async Task WaitUntilDrainedAsync(ServerConnection server, string sessionId, TimeSpan timeout, CancellationToken ct)
    {
        long start = Stopwatch.GetTimestamp();
        while (Stopwatch.GetElapsedTime(start) < timeout)
        {
            SessionStats s = (await server.Client.GetSessionAsync(new GetSessionRequest { SessionId = sessionId }, server.CallOptions(ct))).Stats;
            if (s.FramesProcessed + s.FramesDropped + s.FramesRejected >= s.FramesReceived) return;
            await Task.Delay(50, ct);
        }
    }

    public static string FormatStats(SessionStats s) =>
        string.Create(CultureInfo.InvariantCulture,
            $"received {s.FramesReceived} processed {s.FramesProcessed} dropped {s.FramesDropped} rejected {s.FramesRejected} points {s.Points} subscribers {s.Subscribers} " +
            $"latency p50 {s.LatencyMsP50:F1} ms p99 {s.LatencyMsP99:F1} ms, processing p50 {s.ProcessingMsP50:F1} ms");

    private static string FormatIdRange(IReadOnlyList<uint> ids) =>
        ids.Count == 0 ? "none" : ids.Count == 1 ? ids[0].ToString(CultureInfo.InvariantCulture) : $"{ids[0]}..{ids[^1]}";

    private sealed class StreamCounters
    {
        public long Sent;
    }
}

/// <summary>Wall-clock time as the wire wants it: nanoseconds since the Unix epoch (UTC).</summary>
internal static class WallClock
{
    public static long NowNs() => (DateTime.UtcNow.Ticks - DateTime.UnixEpoch.Ticks) * 100;
}

/// <summary>Query point lists: <c>--points "x,y;x,y"</c> and <c>--grid N</c>.</summary>
/// <summary>Query points for the client commands, as <see cref="PointQuery"/> messages; the parsing and the grid
/// are <see cref="TrackCommand"/>'s, so every command reads "x,y;x,y" and --grid the same way.</summary>
internal static class PointList
{
    public static bool TryParse(string? text, out List<PointQuery> points, out string? error)
    {
        points = [];
        error = null;
        if (string.IsNullOrWhiteSpace(text)) return true;
        try
        {
            points = TrackCommand.ParsePoints(text).Select(p => new PointQuery { X = p.X, Y = p.Y }).ToList();
            return true;
        }
        catch (CliException ex)
        {
            error = ex.Message;
            return false;
        }
    }

    /// <summary>n x n points at the centres of an n x n grid of cells over a width x height frame, row by row.</summary>
    public static IEnumerable<PointQuery> Grid(int n, int width, int height) =>
        TrackCommand.GridPoints(n, width, height).Select(p => new PointQuery { X = p.X, Y = p.Y });
}

// ------------------------------------------------------------------------------------------- connection

/// <summary><c>--server</c>, <c>--token</c>, <c>--tls-ca</c>: shared by the client commands (stream, subscribe, bench server).</summary>
internal sealed class ServerConnectionOptions
{
    public Option<string> Server { get; } = new("--server")
    {
        Description = "Server address: host:port (plain HTTP/2), http://host:port or https://host:port.",
        Required = true,
    };

    public Option<string?> Token { get; } = new("--token")
    {
        Description = "Bearer token for servers started with --auth-token (default: $CAUSALTAP_TOKEN).",
    };

    public Option<string?> TlsCa { get; } = new("--tls-ca")
    {
        Description = "PEM file of the CA that signed the server's certificate (implies https).",
    };

    public void AddTo(Command command)
    {
        command.Add(Server);
        command.Add(Token);
        command.Add(TlsCa);
    }

    public ServerConnection Connect(ParseResult parse) =>
        ServerConnection.Open(parse.GetValue(Server)!, parse.GetValue(Token) ?? Environment.GetEnvironmentVariable("CAUSALTAP_TOKEN"), parse.GetValue(TlsCa));
}

/// <summary>A channel to a CausalTap server plus the headers every call carries (the bearer token).</summary>
internal sealed class ServerConnection : IDisposable
{
    private readonly string? _token;

    private ServerConnection(GrpcChannel channel, string? token)
    {
        Channel = channel;
        Client = new Tracker.TrackerClient(channel);
        _token = string.IsNullOrEmpty(token) ? null : token;
    }

    public GrpcChannel Channel { get; }

    public Tracker.TrackerClient Client { get; }

    public static ServerConnection Open(string server, string? token = null, string? tlsCaFile = null)
    {
        Uri address = ParseAddress(server, tls: tlsCaFile is not null);
        var options = new GrpcChannelOptions { MaxReceiveMessageSize = 64 * 1024 * 1024 };
        if (tlsCaFile is not null)
        {
            if (!File.Exists(tlsCaFile)) throw new CliException($"--tls-ca: '{tlsCaFile}' does not exist.");
            X509Certificate2Collection roots = [];
            roots.ImportFromPemFile(tlsCaFile);
            options.HttpHandler = new SocketsHttpHandler
            {
                SslOptions = new SslClientAuthenticationOptions
                {
                    // Trust exactly the given CA (a private deployment's), not the system store.
                    RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
                    {
                        if (certificate is null || (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != SslPolicyErrors.None) return false;
                        using var chain = new X509Chain();
                        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                        chain.ChainPolicy.CustomTrustStore.AddRange(roots);
                        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                        return chain.Build(new X509Certificate2(certificate));
                    },
                },
                EnableMultipleHttp2Connections = true,
            };
        }
        return new ServerConnection(GrpcChannel.ForAddress(address.ToString(), options), token);
    }

    /// <summary>"host:port" becomes http://host:port (https with TLS); URLs with a scheme are kept.</summary>
    public static Uri ParseAddress(string server, bool tls)
    {
        string text = server.Trim();
        if (!text.Contains("://", StringComparison.Ordinal)) text = (tls ? "https://" : "http://") + text;
        if (!Uri.TryCreate(text, UriKind.Absolute, out Uri? uri) || (uri.Scheme != "http" && uri.Scheme != "https") || uri.IsDefaultPort && !server.Contains(':'))
        {
            throw new CliException($"--server '{server}' is not host:port, http://host:port or https://host:port.");
        }
        if (tls && uri.Scheme == "http") throw new CliException("--tls-ca needs an https:// address (or host:port).");
        return uri;
    }

    public CallOptions CallOptions(CancellationToken ct)
    {
        Metadata? headers = _token is null ? null : new Metadata { { "authorization", "Bearer " + _token } };
        return new CallOptions(headers, cancellationToken: ct);
    }

    public void Dispose() => Channel.Dispose();
}

/// <summary>
/// Ctrl+C / SIGTERM for the client commands: the first signal cancels the token so the command can finish cleanly
/// (complete the call, print its summary, close its session); a second one terminates at once. Program.Main invokes
/// commands synchronously, and System.CommandLine only wires signals to the action's token in async invocation.
/// </summary>
internal sealed class TerminationSignals : IDisposable
{
    private readonly CancellationTokenSource _cts;
    private readonly PosixSignalRegistration[] _registrations;
    private int _signals;

    public TerminationSignals(CancellationToken outer)
    {
        _cts = CancellationTokenSource.CreateLinkedTokenSource(outer);
        _registrations = [PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal), PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal)];
    }

    public CancellationToken Token => _cts.Token;

    private void OnSignal(PosixSignalContext context)
    {
        if (Interlocked.Increment(ref _signals) > 1) return; // second signal: default action, the process ends
        context.Cancel = true;
        // Cancel off the signal thread: continuations must not run (or block) on it.
        ThreadPool.QueueUserWorkItem(_ => _cts.Cancel());
    }

    public void Dispose()
    {
        foreach (PosixSignalRegistration r in _registrations) r.Dispose();
        _cts.Dispose();
    }
}

/// <summary>Maps the errors a client command can meet to a message and an exit code.</summary>
internal static class ClientErrors
{
    /// <summary>Runs a client command with Ctrl+C/SIGTERM wired to its token (see <see cref="TerminationSignals"/>).</summary>
    public static async Task<int> RunAsync(CancellationToken ct, Func<CancellationToken, Task<int>> body)
    {
        using var signals = new TerminationSignals(ct);
        try
        {
            return await RunAsync(() => body(signals.Token));
        }
        catch (OperationCanceledException) when (signals.Token.IsCancellationRequested)
        {
            Console.Error.WriteLine("interrupted");
            return 130;
        }
    }

    public static async Task<int> RunAsync(Func<Task<int>> body)
    {
        try
        {
            return await body();
        }
        catch (RpcException e)
        {
            Console.Error.WriteLine($"error: server answered {e.Status.StatusCode}: {e.Status.Detail}");
            return 1;
        }
        catch (HttpRequestException e)
        {
            Console.Error.WriteLine($"error: cannot reach the server: {e.Message}");
            return 1;
        }
        catch (Exception e) when (e is CliException or VideoIOException or ImageDecodeException or ImagingDependencyException or IOException)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return CliException.ExitCode;
        }
    }
}

// ------------------------------------------------------------------------------------------- frame sources

internal enum StreamImageFormat
{
    Jpeg,
    Raw,
}

/// <summary>One frame ready for the wire: an encoded file (JPEG/PNG) or raw RGB8 pixels, and its size.</summary>
internal readonly record struct SourceFrame(ByteString Data, string EncodedFormat, int Width, int Height)
{
    public bool IsRaw => EncodedFormat.Length == 0;

    public Frame ToFrame(string sessionId, long captureTimeNs, ulong sequence)
    {
        var frame = new Frame { SessionId = sessionId, CaptureTimeNs = captureTimeNs, Sequence = sequence };
        if (IsRaw)
        {
            frame.Raw = new RawImage { Width = (uint)Width, Height = (uint)Height, PixelFormat = Protocol.V1.PixelFormat.Rgb8, Data = Data };
        }
        else
        {
            frame.Encoded = new EncodedImage { Data = Data, Format = EncodedFormat };
        }
        return frame;
    }
}

/// <summary>Frames to stream, in order.</summary>
internal interface IStreamFrameSource : IDisposable
{
    /// <summary>The source's own rate (0 when unknown).</summary>
    double FramesPerSecond { get; }

    /// <summary>A live device: it paces itself, and cannot loop.</summary>
    bool IsLive { get; }

    bool TryRead(out SourceFrame frame);
}

internal static class StreamFrameSources
{
    /// <summary>A folder of images, or anything ffmpeg reads (file, /dev/videoN, lavfi:FILTER).</summary>
    public static IStreamFrameSource Open(string source, StreamImageFormat format, int scaleWidth = 0)
    {
        if (Directory.Exists(source)) return new FolderFrameSource(source, format);
        return FfmpegFrameSource.Start(source, format, scaleWidth);
    }
}

/// <summary>
/// A folder of JPEG/PNG files: with --format jpeg the files go on the wire as they are (no re-encoding);
/// with --format raw they are decoded to RGB8 here.
/// </summary>
internal sealed class FolderFrameSource : IStreamFrameSource
{
    private readonly FrameDirectoryReader _reader;
    private readonly StreamImageFormat _format;
    private readonly RgbImage _image = new();
    private int _next;

    public FolderFrameSource(string folder, StreamImageFormat format)
    {
        _reader = new FrameDirectoryReader(folder);
        _format = format;
    }

    public double FramesPerSecond => 0;

    public bool IsLive => false;

    public bool TryRead(out SourceFrame frame)
    {
        frame = default;
        if (_next >= _reader.Files.Count) return false;
        if (_format == StreamImageFormat.Raw)
        {
            if (!_reader.TryReadFrame(_image)) return false;
            _next++;
            frame = new SourceFrame(ByteString.CopyFrom(RgbImagePacked(_image)), "", _image.Width, _image.Height);
            return true;
        }
        string file = _reader.Files[_next++];
        string kind = Path.GetExtension(file).Equals(".png", StringComparison.OrdinalIgnoreCase) ? "png" : "jpeg";
        frame = new SourceFrame(ByteString.CopyFrom(File.ReadAllBytes(file)), kind, _reader.Width, _reader.Height);
        return true;
    }

    private static byte[] RgbImagePacked(RgbImage image)
    {
        var packed = new byte[image.Width * image.Height * 3];
        for (int y = 0; y < image.Height; y++) image.Row(y)[..(image.Width * 3)].CopyTo(packed.AsSpan(y * image.Width * 3));
        return packed;
    }

    public void Dispose()
    {
        _reader.Dispose();
        _image.Dispose();
    }
}

/// <summary>
/// Video file, V4L2 device or lavfi test source through an <c>ffmpeg</c> subprocess that writes one image per
/// frame to its stdout: MJPEG (JPEG files back to back, split with <see cref="JpegStreamSplitter"/>) or PPM
/// (a tiny header with the size, then RGB8; read with <see cref="PpmStreamReader"/>). Both carry their own
/// frame size, so devices need no probing.
/// </summary>
internal sealed class FfmpegFrameSource : IStreamFrameSource
{
    private readonly Process _process;
    private readonly Stream _stdout;
    private readonly StreamImageFormat _format;
    private readonly Queue<string> _stderrTail = new();
    private readonly string _source;
    private int _frames;

    private FfmpegFrameSource(Process process, StreamImageFormat format, double fps, bool live, string source)
    {
        _process = process;
        _stdout = new BufferedStream(process.StandardOutput.BaseStream, 1 << 16);
        _format = format;
        FramesPerSecond = fps;
        IsLive = live;
        _source = source;
    }

    public double FramesPerSecond { get; }

    public bool IsLive { get; }

    public static FfmpegFrameSource Start(string source, StreamImageFormat format, int scaleWidth)
    {
        bool device = source.StartsWith("/dev/video", StringComparison.Ordinal);
        bool lavfi = source.StartsWith("lavfi:", StringComparison.Ordinal);
        double fps = 0;
        var args = new List<string> { "-v", "error", "-nostdin" };
        if (lavfi)
        {
            args.AddRange(["-f", "lavfi", "-i", source["lavfi:".Length..]]);
            fps = 30;
        }
        else if (device)
        {
            args.AddRange(["-f", "v4l2", "-i", source]);
        }
        else
        {
            fps = VideoInfo.Probe(source).FramesPerSecond; // also reports a missing or unreadable file clearly
            args.AddRange(["-noautorotate", "-i", source]);
        }
        args.AddRange(["-map", "0:v:0", "-vsync", "passthrough"]);
        if (scaleWidth > 0) args.AddRange(["-vf", $"scale={scaleWidth}:-2"]);
        args.AddRange(format == StreamImageFormat.Jpeg
            ? ["-f", "image2pipe", "-c:v", "mjpeg", "-pix_fmt", "yuvj420p", "-q:v", "3", "-"]
            : ["-f", "image2pipe", "-c:v", "ppm", "-"]);

        var info = new ProcessStartInfo(Environment.GetEnvironmentVariable("CAUSALTAP_FFMPEG") ?? "ffmpeg")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        foreach (string a in args) info.ArgumentList.Add(a);
        var process = new Process { StartInfo = info };
        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            process.Dispose();
            throw new ImagingDependencyException($"could not start ffmpeg ({e.Message}): install it (Debian package ffmpeg) or set CAUSALTAP_FFMPEG.", e);
        }
        var reader = new FfmpegFrameSource(process, format, fps, device, source);
        process.ErrorDataReceived += (_, e) => reader.KeepStderr(e.Data);
        process.BeginErrorReadLine();
        return reader;
    }

    public bool TryRead(out SourceFrame frame)
    {
        frame = default;
        if (_format == StreamImageFormat.Jpeg)
        {
            byte[]? jpeg = JpegStreamSplitter.ReadNext(_stdout, out int width, out int height);
            if (jpeg is null) return Ended();
            frame = new SourceFrame(ByteString.CopyFrom(jpeg), "jpeg", width, height);
        }
        else
        {
            PpmStreamReader.Image? image = PpmStreamReader.ReadNext(_stdout);
            if (image is null) return Ended();
            frame = new SourceFrame(ByteString.CopyFrom(image.Pixels), "", image.Width, image.Height);
        }
        _frames++;
        return true;
    }

    private bool Ended()
    {
        if (!_process.WaitForExit(TimeSpan.FromSeconds(10))) return false;
        _process.WaitForExit();
        if (_process.ExitCode != 0)
        {
            string tail;
            lock (_stderrTail) tail = string.Join(" | ", _stderrTail);
            throw new VideoIOException($"ffmpeg failed reading '{_source}' after {_frames} frames (exit {_process.ExitCode}): {tail}");
        }
        return false;
    }

    private void KeepStderr(string? line)
    {
        if (string.IsNullOrWhiteSpace(line)) return;
        lock (_stderrTail)
        {
            _stderrTail.Enqueue(line.Trim());
            while (_stderrTail.Count > 8) _stderrTail.Dequeue();
        }
    }

    public void Dispose()
    {
        try
        {
            // No WaitForExit here: after Ctrl+C this runs while System.CommandLine holds the signal thread, and
            // the child's exit would not be noticed until it lets go. The runtime reaps the child later.
            if (!_process.HasExited) _process.Kill();
        }
        catch (InvalidOperationException)
        {
            // already gone
        }
        _process.Dispose();
    }
}

/// <summary>
/// Splits a stream of back-to-back JPEG files (ffmpeg's MJPEG image2pipe) into single files by walking the
/// JPEG marker structure: length-prefixed segments up to SOS, then entropy-coded data up to the next marker
/// that is not a stuffed byte (FF00) or a restart marker (FFD0-FFD7), until EOI. Searching for FFD9 alone
/// would be wrong: EXIF thumbnails and other segments may contain it. Also returns the size from SOFn.
/// </summary>
internal static class JpegStreamSplitter
{
    /// <summary>The next JPEG file, or null at a clean end of stream.</summary>
    /// <exception cref="VideoIOException">the bytes are not a well-formed JPEG sequence.</exception>
    public static byte[]? ReadNext(Stream input, out int width, out int height)
    {
        width = height = 0;
        int b0 = input.ReadByte();
        if (b0 < 0) return null;
        var output = new MemoryStream(64 * 1024);
        if (b0 != 0xFF || input.ReadByte() != 0xD8) throw new VideoIOException("MJPEG stream: a frame does not start with SOI (FF D8).");
        output.WriteByte(0xFF);
        output.WriteByte(0xD8);
        int marker = ReadMarker(input, output);
        while (true)
        {
            if (marker == 0xD9) return output.ToArray(); // EOI
            if (marker is >= 0xD0 and <= 0xD7 or 0x01)
            {
                marker = ReadMarker(input, output); // no length
                continue;
            }
            int hi = Need(input), lo = Need(input);
            int length = (hi << 8) | lo;
            if (length < 2) throw new VideoIOException($"MJPEG stream: segment FF{marker:X2} has length {length}.");
            output.WriteByte((byte)hi);
            output.WriteByte((byte)lo);
            var segment = new byte[length - 2];
            input.ReadExactly(segment);
            output.Write(segment);
            // SOF0..SOF15 except DHT (C4), JPG (C8), DAC (CC): precision, height, width.
            if (marker is >= 0xC0 and <= 0xCF and not 0xC4 and not 0xC8 and not 0xCC && segment.Length >= 5)
            {
                height = (segment[1] << 8) | segment[2];
                width = (segment[3] << 8) | segment[4];
            }
            marker = marker == 0xDA ? SkipEntropyData(input, output) : ReadMarker(input, output);
        }
    }

    private static int Need(Stream input)
    {
        int b = input.ReadByte();
        return b >= 0 ? b : throw new VideoIOException("MJPEG stream ended inside a frame.");
    }

    /// <summary>Reads FF (fill FFs allowed) and the marker code; writes them; returns the code.</summary>
    private static int ReadMarker(Stream input, MemoryStream output)
    {
        if (Need(input) != 0xFF) throw new VideoIOException("MJPEG stream: expected a marker (FF xx).");
        int code;
        while ((code = Need(input)) == 0xFF)
        {
        }
        output.WriteByte(0xFF);
        output.WriteByte((byte)code);
        return code;
    }

    /// <summary>Copies entropy-coded data; returns the code of the marker that ends it (already written).</summary>
    private static int SkipEntropyData(Stream input, MemoryStream output)
    {
        while (true)
        {
            int b = Need(input);
            output.WriteByte((byte)b);
            if (b != 0xFF) continue;
            int code;
            while ((code = Need(input)) == 0xFF)
            {
            }
            output.WriteByte((byte)code);
            if (code == 0x00 || code is >= 0xD0 and <= 0xD7) continue; // stuffed byte or restart marker: still data
            return code;
        }
    }
}

/// <summary>Reads binary PPM images (P6, maxval 255) written back to back, e.g. by ffmpeg's ppm image2pipe.</summary>
internal static class PpmStreamReader
{
    public sealed record Image(int Width, int Height, byte[] Pixels);

    /// <summary>The next image, or null at a clean end of stream.</summary>
    public static Image? ReadNext(Stream input)
    {
        int first = input.ReadByte();
        if (first < 0) return null;
        if (first != 'P' || input.ReadByte() != '6') throw new VideoIOException("PPM stream: a frame does not start with P6.");
        int width = ReadHeaderNumber(input), height = ReadHeaderNumber(input), maxValue = ReadHeaderNumber(input);
        if (maxValue != 255) throw new VideoIOException($"PPM stream: maxval {maxValue} (only 8-bit, 255, is read).");
        if (width <= 0 || height <= 0 || (long)width * height > 1L << 28) throw new VideoIOException($"PPM stream: bad size {width}x{height}.");
        var pixels = new byte[width * height * 3];
        try
        {
            input.ReadExactly(pixels);
        }
        catch (EndOfStreamException)
        {
            throw new VideoIOException("PPM stream ended inside a frame.");
        }
        return new Image(width, height, pixels);
    }

    /// <summary>Skips whitespace and # comments, reads a decimal number and the one whitespace byte after it.</summary>
    private static int ReadHeaderNumber(Stream input)
    {
        int b = input.ReadByte();
        while (b == '#' || char.IsWhiteSpace((char)b))
        {
            if (b == '#') while (b >= 0 && b != '\n') b = input.ReadByte();
            b = input.ReadByte();
        }
        if (b is < '0' or > '9') throw new VideoIOException("PPM stream: bad header.");
        long value = 0;
        while (b is >= '0' and <= '9')
        {
            value = value * 10 + (b - '0');
            if (value > int.MaxValue) throw new VideoIOException("PPM stream: header number too large.");
            b = input.ReadByte();
        }
        if (b < 0 || !char.IsWhiteSpace((char)b)) throw new VideoIOException("PPM stream: bad header.");
        return (int)value;
    }
}
