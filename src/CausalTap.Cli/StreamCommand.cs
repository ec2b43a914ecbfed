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
/// a V4L2 camera (<c>/dev/videoN</c>), an RTSP/HTTP stream URL or the test pattern <c>synthetic:640x480</c> (frame
/// sources of the imaging room, on OpenCV),
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
        var source = new Argument<string>("source") { Description = "Video file, folder of JPEG/PNG frames, V4L2 camera (/dev/videoN), rtsp:// or http:// stream URL, or synthetic:WxH (a moving test pattern)." };
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

        var command = new Command("stream", "Camera node: stream a video file, frame folder, V4L2 camera or RTSP/HTTP stream to a server session (StreamFrames), paced at the source rate.")
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
        source.StartsWith(SyntheticFrameSource.Prefix, StringComparison.Ordinal) ? "synthetic"
        : source.Contains("://", StringComparison.Ordinal) ? new Uri(source).Host
        : Path.GetFileNameWithoutExtension(source.TrimEnd('/')) is { Length: > 0 } n ? n : "camera";

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
                output.WriteLine($"model {info.Model}, method {(CausalTap.Tracking.TrackingMethods.Parse(info.Method.ToString()) is { } m ? CausalTap.Tracking.TrackingMethods.Name(m) : info.Method.ToString())}, provider {info.Provider}, frames {first.Width}x{first.Height} {settings.Format.ToString().ToLowerInvariant()}" +
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
