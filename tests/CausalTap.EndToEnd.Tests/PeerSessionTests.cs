using System.Text.Json;
using CausalTap.EndToEnd.Tests.TestSupport;
using CausalTap.Protocol.V1;
using Xunit.Abstractions;

namespace CausalTap.EndToEnd.Tests;

/// <summary>
/// Real peers against the real `causaltap serve` process: grpcio (Python) and @grpc/grpc-js (Node) run whole
/// session flows; the grpcio health stub probes grpc.health.v1.
/// </summary>
public sealed class PeerSessionTests(ServerFixture fixture, ITestOutputHelper log) : IClassFixture<ServerFixture>
{
    private ServerProcess Server => fixture.Server;

    private async Task<JsonElement> RunPythonSessionAsync(params string[] args)
    {
        E2EEnvironment.RequirePython();
        string script = Path.Combine(E2EEnvironment.PeersDir, "python_session.py");
        ProcessResult r = await ChildProcess.RunAsync(E2EEnvironment.Python, [script, "--server", Server.HostPort, .. args], E2EEnvironment.PeersDir, TimeSpan.FromMinutes(5));
        Assert.True(r.ExitCode == 0, $"python_session.py failed ({r.ExitCode}): {r.Tail()}\n{Server.Output[^Math.Min(3000, Server.Output.Length)..]}");
        string json = r.Stdout.Trim().Split('\n')[^1];
        log.WriteLine(json.Length > 2000 ? json[..2000] + "..." : json);
        return JsonDocument.Parse(json).RootElement.Clone();
    }

    /// <summary>What a grpcio session must show: see python_session.py for the flow.</summary>
    private static void AssertSessionFlow(JsonElement r)
    {
        int sent = r.GetProperty("frames_sent").GetInt32();
        JsonElement summary = r.GetProperty("summary"), stats = r.GetProperty("stats"), live = r.GetProperty("live"), stalled = r.GetProperty("stalled");

        // Ingest: every frame arrived and was queued (policy BLOCK), none dropped or rejected, all processed,
        // while the stalled subscriber read nothing: a subscriber cannot hold the engine or the camera back.
        Assert.Equal(sent, summary.GetProperty("received").GetInt32());
        Assert.Equal(sent, summary.GetProperty("queued").GetInt32());
        Assert.Equal(0, summary.GetProperty("rejected").GetInt32());
        Assert.Equal(sent, stats.GetProperty("processed").GetInt32());
        Assert.True(stalled.GetProperty("was_waiting").GetBoolean(), "the stalled subscriber should still have been waiting when the camera finished");

        // The live subscriber got every update, in order, none skipped.
        int[] frames = live.GetProperty("frames").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        Assert.Equal(Enumerable.Range(0, sent), frames);
        Assert.Equal(0, live.GetProperty("max_skipped").GetInt32());
        Assert.Equal("OK", live.GetProperty("end").GetString());

        // Points added mid-stream: ids 1..n, absent before their query frame, present from it on.
        JsonElement added = r.GetProperty("points_added");
        int n = r.GetProperty("points_requested").GetInt32();
        Assert.Equal(Enumerable.Range(1, n), added.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()));
        long queryFrame = added.GetProperty("query_frame_index").GetInt64();
        Assert.InRange(queryFrame, 1, sent - 1);
        int[] counts = live.GetProperty("point_counts").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        for (int f = 0; f < sent; f++) Assert.Equal(f < queryFrame ? 0 : n, counts[f]);

        // The stalled subscriber was skipped over (latest wins) and says so; it still ends cleanly.
        long skipped = stalled.GetProperty("last_skipped").GetInt64();
        Assert.True(skipped > 0, $"the stalled subscriber reports updates_skipped = {skipped}; expected > 0");
        Assert.InRange(stalled.GetProperty("count").GetInt64() + skipped, 2, sent);
        Assert.Equal("OK", stalled.GetProperty("end").GetString());
    }

    [Fact]
    public async Task Grpcio_session_with_frames_made_in_the_test()
    {
        AssertSessionFlow(await RunPythonSessionAsync("--source", "synthetic", "--frames", "60", "--width", "256"));
    }

    [SharedDataFact("robot_real/umi_cup_fullframe.mp4")]
    public async Task Grpcio_session_with_a_real_robot_clip()
    {
        string clip = Path.Combine(E2EEnvironment.SharedData!, "robot_real", "umi_cup_fullframe.mp4");
        JsonElement r = await RunPythonSessionAsync("--source", clip, "--frames", "60", "--width", "256");
        Assert.Equal((256, 144), (r.GetProperty("frame_width").GetInt32(), r.GetProperty("frame_height").GetInt32()));
        AssertSessionFlow(r);
    }

    [Fact]
    public async Task Grpcio_health_check_answers_for_the_server_and_the_tracker_service()
    {
        JsonElement r = await RunPythonSessionAsync("--health");
        Assert.Equal("SERVING", r.GetProperty("(server)").GetString());
        Assert.Equal("SERVING", r.GetProperty("causaltap.v1.Tracker").GetString());
        Assert.Equal("NOT_FOUND", r.GetProperty("no.such.Service").GetString());
    }

    [Fact]
    public async Task Grpcio_lists_and_calls_the_services_through_server_reflection_alone()
    {
        JsonElement r = await RunPythonSessionAsync("--reflection");
        foreach (string version in new[] { "v1", "v1alpha" })
        {
            JsonElement listing = r.GetProperty(version);
            Assert.True(listing.GetProperty("error").ValueKind == JsonValueKind.Null, $"{version}: {listing}");
            string[] services = listing.GetProperty("services").EnumerateArray().Select(e => e.GetString()!).ToArray();
            Assert.Contains("causaltap.v1.Tracker", services);
            Assert.Contains("grpc.health.v1.Health", services);
        }
        JsonElement tracker = r.GetProperty("tracker");
        Assert.True(tracker.GetProperty("error").ValueKind == JsonValueKind.Null, tracker.ToString());
        string[] methods = tracker.GetProperty("methods").EnumerateArray().Select(e => e.GetString()!).ToArray();
        Assert.Equal(Tracker.Descriptor.Methods.Select(m => m.Name).Order(), methods);
        Assert.False(string.IsNullOrEmpty(tracker.GetProperty("server_info_version").GetString()));
    }

    [Fact]
    public async Task Python_example_client_streams_a_video_and_prints_updates()
    {
        E2EEnvironment.RequirePython();
        string video = await MakeTestClipAsync(20);
        try
        {
            ProcessResult r = await ChildProcess.RunAsync(E2EEnvironment.Python,
                [Path.Combine(E2EEnvironment.PythonClientDir, "causaltap_client.py"), "--server", Server.HostPort, video, "--points", "80,60;40,30", "--width", "160"],
                E2EEnvironment.PythonClientDir, TimeSpan.FromMinutes(3));
            log.WriteLine(r.Stdout);
            Assert.True(r.ExitCode == 0, r.Tail());
            string[] lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            // Each check names the whole output, so a failure in CI says what the client printed.
            Assert.True(lines[0].StartsWith("session ", StringComparison.Ordinal), r.Stdout);
            Assert.True(lines.Any(l => l.StartsWith("points [1, 2]", StringComparison.Ordinal)), r.Stdout);
            Assert.True(r.Stdout.Contains("sent 20 frames", StringComparison.Ordinal), r.Stdout);
            string[] updates = lines.Where(l => l.StartsWith("frame ", StringComparison.Ordinal)).ToArray();
            Assert.True(updates.Any(u => u.Contains(" 1:", StringComparison.Ordinal) && u.Contains(" 2:", StringComparison.Ordinal)), r.Stdout);
            Assert.True(lines.Any(l => l.StartsWith("closed: processed ", StringComparison.Ordinal)), r.Stdout);
        }
        finally
        {
            File.Delete(video);
        }
    }

    [Fact]
    public async Task Grpc_js_session_streams_raw_frames_adds_points_and_receives_every_update()
    {
        E2EEnvironment.RequireNode();
        ProcessResult r = await ChildProcess.RunAsync("node", [Path.Combine(E2EEnvironment.NodeDir, "e2e_session.js"), "--server", Server.HostPort, "--frames", "12", "--points-after", "3"],
            E2EEnvironment.NodeDir, TimeSpan.FromMinutes(3));
        Assert.True(r.ExitCode == 0, r.Tail());
        log.WriteLine(r.Stdout);
        JsonElement j = JsonDocument.Parse(r.Stdout.Trim().Split('\n')[^1]).RootElement;

        Assert.Equal(12, j.GetProperty("summary").GetProperty("received").GetInt32());
        Assert.Equal(12, j.GetProperty("summary").GetProperty("queued").GetInt32());
        Assert.Equal(12, j.GetProperty("processed").GetInt32());
        Assert.Equal("OK", j.GetProperty("end").GetProperty("code").GetString());
        Assert.Equal([1, 2, 3], j.GetProperty("added").GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()));
        long queryFrame = j.GetProperty("added").GetProperty("query_frame_index").GetInt64();

        JsonElement[] updates = j.GetProperty("updates").EnumerateArray().ToArray();
        Assert.Equal(Enumerable.Range(0, 12), updates.Select(u => u.GetProperty("frame_index").GetInt32()));
        foreach (JsonElement u in updates)
        {
            int[] ids = u.GetProperty("points").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            Assert.Equal(u.GetProperty("frame_index").GetInt64() < queryFrame ? [] : [1, 2, 3], ids);
            Assert.Equal(0, u.GetProperty("skipped").GetInt32());
        }
    }

    [Fact]
    public async Task Cli_stream_and_subscribe_follow_one_session()
    {
        E2EEnvironment.RequireFfmpeg();
        // The two-terminal flow: a controller subscribes (subscribe --out CSV), then a camera streams into the session.
        SessionInfo session = await Server.Client.OpenSessionAsync(new OpenSessionRequest { CameraId = "e2e-cli", IngestPolicy = IngestPolicy.Block });
        string csv = Path.Combine(fixture.EpisodesDirectory, $"tracks-{session.SessionId}.csv");
        await using ChildProcess subscriber = ChildProcess.StartCli("subscribe", "--server", Server.HostPort, "--session", session.SessionId, "--out", csv, "--queue", "64");
        await WaitForSubscribersAsync(session.SessionId, 1);

        await using ChildProcess camera = ChildProcess.StartCli("stream", "synthetic:320x240", "--server", Server.HostPort,
            "--session", session.SessionId, "--max-frames", "30", "--grid", "3", "--width", "160");
        string first = await camera.WaitForLineAsync(_ => true, TimeSpan.FromMinutes(1));
        Assert.Equal($"session {session.SessionId}", first);
        ProcessResult streamed = await camera.WaitForExitAsync(TimeSpan.FromMinutes(3));
        log.WriteLine(streamed.Stdout);
        Assert.True(streamed.ExitCode == 0, streamed.Tail());
        Assert.Contains("points 9 added (ids 1..9)", streamed.Stdout);
        Assert.Contains("sent 30 frames: queued 30, dropped 0, rejected 0", streamed.Stdout);

        await WaitForAllProcessedAsync(session.SessionId);
        SessionInfo closed = await Server.Client.CloseSessionAsync(new CloseSessionRequest { SessionId = session.SessionId });
        Assert.Equal(30ul, closed.Stats.FramesProcessed);
        ProcessResult subscribed = await subscriber.WaitForExitAsync(TimeSpan.FromMinutes(1));
        Assert.True(subscribed.ExitCode == 0, subscribed.Tail());
        Assert.Contains("30 updates (0 skipped", subscribed.Stdout);

        string[][] rows = File.ReadAllLines(csv).Skip(1).Select(l => l.Split(',')).ToArray();
        Assert.Equal(Enumerable.Range(0, 30), rows.Select(r => int.Parse(r[0], System.Globalization.CultureInfo.InvariantCulture)).Distinct());
        string[][] pointRows = rows.Where(r => r[7].Length > 0).ToArray();
        Assert.Equal(Enumerable.Range(1, 9).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)), pointRows.Select(r => r[7]).Distinct().Order());
        Assert.All(pointRows, r =>
        {
            Assert.InRange(float.Parse(r[8], System.Globalization.CultureInfo.InvariantCulture), 0f, 160f);
            Assert.InRange(float.Parse(r[9], System.Globalization.CultureInfo.InvariantCulture), 0f, 120f);
        });
    }

    [Fact]
    public async Task Cli_stream_reads_a_video_file_with_OpenCV_and_its_points_are_tracked()
    {
        // The clip is made by ffmpeg (an independent encoder); the CLI reads it with OpenCV's VideoCapture.
        string video = await MakeTestClipAsync(12);
        try
        {
            ProcessResult r = await ChildProcess.StartCli("stream", video, "--server", Server.HostPort, "--width", "160", "--grid", "2")
                .WaitForExitAsync(TimeSpan.FromMinutes(3));
            log.WriteLine(r.Stdout);
            Assert.True(r.ExitCode == 0, r.Tail());
            Assert.Contains("frames 160x120 jpeg", r.Stdout);
            Assert.Contains("sent 12 frames", r.Stdout);
            Assert.Matches(@"closed: received 12 processed [1-9]\d* .* points 4 ", r.Stdout); // frames were tracked, 4 grid points
        }
        finally
        {
            File.Delete(video);
        }
    }

    [Fact]
    public async Task Cli_stream_opens_its_own_session_sends_raw_frames_from_a_folder_and_closes_it()
    {
        E2EEnvironment.RequireFfmpeg();
        string folder = Directory.CreateTempSubdirectory("causaltap-e2e-frames-").FullName;
        try
        {
            ProcessResult made = await ChildProcess.RunAsync("ffmpeg", ["-v", "error", "-nostdin", "-f", "lavfi", "-i", "testsrc2=size=128x96:rate=30",
                "-frames:v", "8", Path.Combine(folder, "frame%03d.png")], folder, TimeSpan.FromMinutes(1));
            Assert.True(made.ExitCode == 0, made.Tail());
            ProcessResult r = await ChildProcess.StartCli("stream", folder, "--server", Server.HostPort, "--format", "raw", "--fps", "15", "--points", "64,48;10.5,20")
                .WaitForExitAsync(TimeSpan.FromMinutes(3));
            log.WriteLine(r.Stdout);
            Assert.True(r.ExitCode == 0, r.Tail());
            string sessionId = r.Stdout.Split('\n')[0].Trim()["session ".Length..];
            Assert.Contains("frames 128x96 raw", r.Stdout);
            Assert.Contains("points 2 added (ids 1..2)", r.Stdout);
            Assert.Contains("sent 8 frames", r.Stdout);
            Assert.Contains("closed: received 8", r.Stdout);
            SessionInfo info = await Server.Client.GetSessionAsync(new GetSessionRequest { SessionId = sessionId });
            Assert.Equal(SessionState.Closed, info.State);
            Assert.Equal(8ul, info.Stats.FramesReceived);
        }
        catch (Grpc.Core.RpcException e) when (e.Status.StatusCode == Grpc.Core.StatusCode.NotFound)
        {
            // A closed session may already be forgotten by the server; the CLI's "closed:" line above is the check.
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task Cli_stream_and_subscribe_stop_cleanly_on_SIGTERM_with_a_summary()
    {
        E2EEnvironment.RequireFfmpeg();
        // Ctrl+C and SIGTERM: stop sending, complete the call, print the summary, close the session, exit 0.
        await using ChildProcess camera = ChildProcess.StartCli("stream", "synthetic:160x120", "--server", Server.HostPort, "--loop", "--grid", "2");
        string sessionId = (await camera.WaitForLineAsync(_ => true, TimeSpan.FromMinutes(1)))["session ".Length..];
        string csv = Path.Combine(fixture.EpisodesDirectory, $"sigterm-{sessionId}.csv");
        await using ChildProcess subscriber = ChildProcess.StartCli("subscribe", "--server", Server.HostPort, "--session", sessionId, "--out", csv);
        await WaitForSubscribersAsync(sessionId, 1);
        await camera.WaitForLineAsync(l => l.StartsWith("points 4 added", StringComparison.Ordinal), TimeSpan.FromMinutes(1));

        await SendSigtermAsync(subscriber.Id);
        ProcessResult subscribed = await subscriber.WaitForExitAsync(TimeSpan.FromMinutes(1));
        Assert.True(subscribed.ExitCode == 0, subscribed.Tail());
        Assert.Contains("ended: interrupted", subscribed.Stdout);
        Assert.StartsWith(UpdateWriterHeaderStart, File.ReadAllLines(csv)[0]); // the file was flushed and closed

        await SendSigtermAsync(camera.Id);
        ProcessResult streamed = await camera.WaitForExitAsync(TimeSpan.FromMinutes(1));
        log.WriteLine(streamed.Stdout);
        Assert.True(streamed.ExitCode == 0, streamed.Tail());
        Assert.Matches(@"sent (\d+) frames: queued \1,", streamed.Stdout);
        Assert.Contains("closed: received", streamed.Stdout);
        Assert.DoesNotContain((await Server.Client.ListSessionsAsync(new ListSessionsRequest())).Sessions,
            s => s.SessionId == sessionId && s.State == SessionState.Open);
    }

    [Fact]
    public async Task Bench_server_against_an_external_server_reports_a_row_per_stream_count()
    {
        E2EEnvironment.RequireFfmpeg();
        // A smoke run of `causaltap bench server --server`: the numbers are not asserted, the accounting is.
        ProcessResult r = await ChildProcess.StartCli("bench", "server", "--server", Server.HostPort, "--streams", "1,2", "--seconds", "2", "--warmup", "1",
            "--points", "16", "--fps", "10", "--width", "160", "--json").WaitForExitAsync(TimeSpan.FromMinutes(3));
        Assert.True(r.ExitCode == 0, r.Tail());
        JsonElement rows = JsonDocument.Parse(r.Stdout.Trim().Split('\n')[^1]).RootElement.GetProperty("rows");
        Assert.Equal([1, 2], rows.EnumerateArray().Select(row => row.GetProperty("Streams").GetInt32()));
        foreach (JsonElement row in rows.EnumerateArray())
        {
            int streams = row.GetProperty("Streams").GetInt32();
            Assert.Equal(30 * streams, row.GetProperty("Sent").GetInt64()); // (1 + 2) s x 10 fps per stream
            Assert.Equal(row.GetProperty("Sent").GetInt64(),
                row.GetProperty("Processed").GetInt64() + row.GetProperty("Dropped").GetInt64() + row.GetProperty("Rejected").GetInt64());
            Assert.True(row.GetProperty("Processed").GetInt64() > 0);
            Assert.Equal(JsonValueKind.Object, row.GetProperty("EndToEnd").ValueKind);
        }
    }

    /// <summary>A 320x240 H.264 test-pattern clip of <paramref name="frames"/> frames made by ffmpeg, in the temp folder (the caller deletes it).</summary>
    private static async Task<string> MakeTestClipAsync(int frames)
    {
        E2EEnvironment.RequireFfmpeg();
        string video = Path.Combine(Path.GetTempPath(), $"causaltap-e2e-{Guid.NewGuid():N}.mp4");
        ProcessResult made = await ChildProcess.RunAsync("ffmpeg", ["-v", "error", "-nostdin", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30",
            "-frames:v", frames.ToString(System.Globalization.CultureInfo.InvariantCulture), "-pix_fmt", "yuv420p", video], E2EEnvironment.RepoRoot, TimeSpan.FromMinutes(1));
        Assert.True(made.ExitCode == 0, made.Tail());
        return video;
    }

    private const string UpdateWriterHeaderStart = "frame_index,sequence,";

    private static async Task SendSigtermAsync(int pid)
    {
        ProcessResult r = await ChildProcess.RunAsync("kill", ["-TERM", pid.ToString(System.Globalization.CultureInfo.InvariantCulture)], E2EEnvironment.RepoRoot, TimeSpan.FromSeconds(30));
        Assert.True(r.ExitCode == 0, r.Tail());
    }

    private async Task WaitForSubscribersAsync(string sessionId, uint count)
    {
        for (int i = 0; i < 600; i++)
        {
            SessionInfo info = await Server.Client.GetSessionAsync(new GetSessionRequest { SessionId = sessionId });
            if (info.Stats.Subscribers >= count) return;
            await Task.Delay(50);
        }
        Assert.Fail($"session {sessionId} never had {count} subscriber(s)");
    }

    private async Task WaitForAllProcessedAsync(string sessionId)
    {
        for (int i = 0; i < 1200; i++)
        {
            SessionStats s = (await Server.Client.GetSessionAsync(new GetSessionRequest { SessionId = sessionId })).Stats;
            if (s.FramesProcessed + s.FramesDropped + s.FramesRejected >= s.FramesReceived) return;
            await Task.Delay(50);
        }
        Assert.Fail($"session {sessionId} did not finish its frames");
    }
}
