using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Grpc.Core;
using Grpc.Net.Client;
using CausalTap.Protocol.V1;

namespace CausalTap.Cli;

/// <summary>
/// <c>causaltap subscribe --server ADDR --session ID</c>: a controller. Prints one compact line per
/// <c>TrackUpdate</c> (frame, latency = publish - receive on the server's clock, skipped updates, and per point
/// id:x,y,v|o), or writes the updates to a CSV (one row per point) or JSONL (one object per update) file.
/// Ends when the session closes, after <c>--count</c> updates, or on Ctrl+C.
/// </summary>
internal static class SubscribeCommand
{
    public static Command Create()
    {
        var connection = new ServerConnectionOptions();
        var session = new Option<string>("--session") { Description = "Session to follow (printed first by `causaltap stream`).", Required = true };
        var output = new Option<string?>("--out") { Description = "Write updates to this file instead of printing them: *.csv (one row per point) or *.jsonl (one object per update)." };
        var count = new Option<int>("--count") { Description = "Stop after this many updates (0 = until the session closes)." };
        var queue = new Option<int>("--queue") { Description = "Subscriber queue depth on the server (0 = server default; latest wins when full)." };
        count.Validators.Add(r => { if (r.GetValueOrDefault<int>() < 0) r.AddError("--count must be >= 0."); });
        queue.Validators.Add(r => { if (r.GetValueOrDefault<int>() < 0) r.AddError("--queue must be >= 0."); });
        output.Validators.Add(r =>
        {
            string? path = r.GetValueOrDefault<string?>();
            if (path is not null && UpdateWriter.KindOf(path) is null) r.AddError("--out must end in .csv or .jsonl.");
        });

        var command = new Command("subscribe", "Controller: follow a session's track updates (Subscribe); print them or write CSV/JSONL.")
        {
            session, output, count, queue,
        };
        connection.AddTo(command);
        command.SetAction((parse, ct) => ClientErrors.RunAsync(ct, async ct =>
        {
            using ServerConnection server = connection.Connect(parse);
            return await RunAsync(server, parse.GetValue(session)!, parse.GetValue(output), parse.GetValue(count), parse.GetValue(queue), Console.Out, ct);
        }));
        return command;
    }

    public static async Task<int> RunAsync(ServerConnection server, string sessionId, string? outPath, int count, int queue, TextWriter console, CancellationToken ct)
    {
        using UpdateWriter? file = outPath is null ? null : UpdateWriter.Create(outPath);
        using AsyncServerStreamingCall<TrackUpdate> call = server.Client.Subscribe(
            new SubscribeRequest { SessionId = sessionId, QueueUpdates = (uint)queue }, server.CallOptions(ct));
        long received = 0, skipped = 0;
        string end = "session closed";
        try
        {
            while (await call.ResponseStream.MoveNext(ct))
            {
                TrackUpdate update = call.ResponseStream.Current;
                received++;
                skipped = (long)update.UpdatesSkipped;
                if (file is null) console.WriteLine(UpdateFormat.Line(update));
                else file.Write(update);
                if (count > 0 && received >= count)
                {
                    end = $"{count} updates";
                    break;
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            end = "interrupted";
        }
        catch (RpcException) when (ct.IsCancellationRequested)
        {
            // Stopping cancels the call; grpc-dotnet reports that as Cancelled, or as Unavailable ("the request was
            // aborted") when the abort reaches a read in flight first. Either way the user asked for it.
            end = "interrupted";
        }
        string where = outPath is null ? "" : $", written to {outPath}";
        console.WriteLine($"{received} updates ({skipped} skipped by the server for this subscriber){where}; ended: {end}");
        return 0;
    }
}

/// <summary>Text forms of a <see cref="TrackUpdate"/>.</summary>
internal static class UpdateFormat
{
    /// <summary>Server-side latency: receive -> publish, in milliseconds.</summary>
    public static double LatencyMs(TrackUpdate u) => (u.PublishTimeNs - u.ReceiveTimeNs) / 1e6;

    /// <summary><c>frame 12 seq 12 latency 8.3 ms skipped 0 | 1:120.5,80.2,v 2:33.0,40.1,o</c> (v visible, o occluded).</summary>
    public static string Line(TrackUpdate u)
    {
        var line = new StringBuilder(32 + u.Points.Count * 20);
        line.Append(CultureInfo.InvariantCulture, $"frame {u.FrameIndex} seq {u.Sequence} latency {LatencyMs(u):F1} ms skipped {u.UpdatesSkipped} |");
        foreach (PointState p in u.Points)
        {
            line.Append(CultureInfo.InvariantCulture, $" {p.Id}:{p.X:F1},{p.Y:F1},{(p.Visible ? 'v' : 'o')}");
        }
        return line.ToString();
    }
}

/// <summary>Writes updates to CSV (one row per point; an update without points gets one row with empty point columns) or JSONL.</summary>
internal sealed class UpdateWriter : IDisposable
{
    public const string CsvHeader = "frame_index,sequence,capture_time_ns,receive_time_ns,publish_time_ns,latency_ms,updates_skipped,point_id,x,y,visible,occlusion_probability,uncertainty";

    private readonly StreamWriter _writer;
    private readonly bool _csv;

    private UpdateWriter(StreamWriter writer, bool csv)
    {
        _writer = writer;
        _csv = csv;
        if (csv) _writer.WriteLine(CsvHeader);
    }

    public static string? KindOf(string path) =>
        path.EndsWith(".csv", StringComparison.OrdinalIgnoreCase) ? "csv" : path.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase) ? "jsonl" : null;

    public static UpdateWriter Create(string path) =>
        new(new StreamWriter(path, append: false, new UTF8Encoding(false)) { NewLine = "\n" }, KindOf(path) == "csv");

    public void Write(TrackUpdate u)
    {
        if (_csv) WriteCsv(_writer, u);
        else _writer.WriteLine(JsonLine(u));
    }

    public static void WriteCsv(TextWriter w, TrackUpdate u)
    {
        string prefix = string.Create(CultureInfo.InvariantCulture,
            $"{u.FrameIndex},{u.Sequence},{u.CaptureTimeNs},{u.ReceiveTimeNs},{u.PublishTimeNs},{UpdateFormat.LatencyMs(u):F3},{u.UpdatesSkipped}");
        if (u.Points.Count == 0)
        {
            w.WriteLine(prefix + ",,,,,,");
            return;
        }
        foreach (PointState p in u.Points)
        {
            w.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{prefix},{p.Id},{p.X:R},{p.Y:R},{(p.Visible ? 1 : 0)},{p.OcclusionProbability:R},{p.Uncertainty:R}"));
        }
    }

    public static string JsonLine(TrackUpdate u)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("session_id", u.SessionId);
            json.WriteNumber("frame_index", u.FrameIndex);
            json.WriteNumber("sequence", u.Sequence);
            json.WriteNumber("capture_time_ns", u.CaptureTimeNs);
            json.WriteNumber("receive_time_ns", u.ReceiveTimeNs);
            json.WriteNumber("publish_time_ns", u.PublishTimeNs);
            json.WriteNumber("latency_ms", Math.Round(UpdateFormat.LatencyMs(u), 3));
            json.WriteNumber("frame_width", u.FrameWidth);
            json.WriteNumber("frame_height", u.FrameHeight);
            json.WriteNumber("frames_dropped", u.FramesDropped);
            json.WriteNumber("frames_rejected", u.FramesRejected);
            json.WriteNumber("updates_skipped", u.UpdatesSkipped);
            json.WriteNumber("processing_ms", u.ProcessingMs);
            json.WriteStartArray("points");
            foreach (PointState p in u.Points)
            {
                json.WriteStartObject();
                json.WriteNumber("id", p.Id);
                json.WriteNumber("x", p.X);
                json.WriteNumber("y", p.Y);
                json.WriteBoolean("visible", p.Visible);
                json.WriteNumber("occlusion_probability", p.OcclusionProbability);
                json.WriteNumber("uncertainty", p.Uncertainty);
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    public void Dispose() => _writer.Dispose();
}
