using CausalTap.Tracking;
using System.Text.Json;
using CausalTap.Cli.Bench;
using CausalTap.Imaging;
using CausalTap.Imaging.Video;
using CausalTap.Tracking.Evaluation;

namespace CausalTap.Cli.Tests;

/// <summary>
/// End-to-end tests of the commands that run the tracker (track, eval, predict, bench, models) on a random-init
/// tiny model (see <see cref="TestModels"/>) and small synthetic inputs. Each test gets its own models folder
/// (CAUSALTAP_MODELS) and scratch folder.
/// </summary>
[Collection(CliCollection.Name)]
public sealed class TrackingCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("causaltap-cli-").FullName;
    private readonly string _models;
    private readonly string? _oldModels = Environment.GetEnvironmentVariable("CAUSALTAP_MODELS");
    private readonly string? _oldDefault = Environment.GetEnvironmentVariable(ModelResolver.DefaultModelVariable);

    public TrackingCommandTests()
    {
        _models = Path.Combine(_dir, "models");
        Directory.CreateDirectory(_models);
        TestModels.CopyTo(_models, "tiny");
        Environment.SetEnvironmentVariable("CAUSALTAP_MODELS", _models);
        Environment.SetEnvironmentVariable(ModelResolver.DefaultModelVariable, null);
    }

    public void Dispose()
    {
        Environment.SetEnvironmentVariable("CAUSALTAP_MODELS", _oldModels);
        Environment.SetEnvironmentVariable(ModelResolver.DefaultModelVariable, _oldDefault);
        Directory.Delete(_dir, recursive: true);
    }

    // ------------------------------------------------------------------------------------------------ track
    [Fact]
    public void Track_writes_csv_rows_per_point_and_frame_and_an_overlay_video()
    {
        string video = WriteVideo(frames: 6, width: 96, height: 64);
        string csv = Path.Combine(_dir, "tracks.csv"), overlay = Path.Combine(_dir, "overlay.mp4");

        var (rc, output) = CliRunner.Run("track", video, "--points", "10,10; 50.5,30", "--out", csv, "--overlay", overlay);

        Assert.True(rc == 0, output);
        string[] lines = File.ReadAllLines(csv);
        Assert.Equal("frame,id,x,y,visible,occlusion_prob,uncertainty", lines[0]);
        Assert.Equal(1 + 6 * 2, lines.Length);
        string[] first = lines[1].Split(',');
        Assert.Equal(new[] { "0", "0" }, first[..2]);
        Assert.True(float.IsFinite(float.Parse(first[2], System.Globalization.CultureInfo.InvariantCulture))); // random weights: anywhere, but a number
        Assert.All(lines.Skip(1), l => Assert.Equal(7, l.Split(',').Length));
        Assert.Equal("5", lines[^1].Split(',')[0]);
        Assert.Contains("tracked 6 frames (96x64), 2 points", output);
        Assert.Matches(@"ms/frame \(Track\): p50 [0-9.]+, p99 [0-9.]+", output);

        using VideoReader reader = VideoReader.Open(overlay);
        Assert.Equal((96, 64), (reader.Width, reader.Height));
        using var image = new RgbImage();
        int count = 0;
        while (reader.TryReadFrame(image)) count++;
        Assert.Equal(6, count);
    }

    [Theory]
    [InlineData("cuda")]
    [InlineData("tensorrt")]
    public void Track_with_a_named_provider_that_cannot_load_fails_with_the_reason(string provider)
    {
        string video = WriteVideo(frames: 2, width: 64, height: 48);
        var (rc, output) = CliRunner.Run("track", video, "--points", "10,10", "--out", Path.Combine(_dir, "t.csv"), "--provider", provider);
        Assert.NotEqual(0, rc);
        Assert.Contains($"error: Execution provider '{provider}' cannot be used: ", output);
        Assert.Contains("Failed to load shared library", output);
        Assert.False(File.Exists(Path.Combine(_dir, "t.csv")), "no silent fallback: nothing may be tracked");
    }

    [Fact]
    public void Track_with_auto_picks_cpu_here_and_says_what_it_skipped()
    {
        string video = WriteVideo(frames: 2, width: 64, height: 48);
        var (rc, output) = CliRunner.Run("track", video, "--points", "10,10", "--out", Path.Combine(_dir, "t.csv"), "--provider", "auto");
        Assert.True(rc == 0, output);
        Assert.Contains("provider cpu (auto; skipped tensorrt: ", output);
        Assert.Contains("; cuda: ", output);
    }

    [Fact]
    public void Unknown_provider_is_rejected_with_the_accepted_names()
    {
        var (rc, output) = CliRunner.Run("track", "x.mp4", "--points", "1,1", "--provider", "webgpu");
        Assert.NotEqual(0, rc);
        Assert.Contains("webgpu", output);
        Assert.Contains("tensorrt", output);
    }

    [Fact]
    public void Track_grid_with_a_later_query_frame_writes_npz_with_tracker_shapes()
    {
        string video = WriteVideo(frames: 5, width: 80, height: 60);
        string npz = Path.Combine(_dir, "tracks.npz");

        var (rc, output) = CliRunner.Run("track", video, "--grid", "3", "--query-frame", "2", "--out", npz, "--method", "tapir");

        Assert.True(rc == 0, output);
        Dictionary<string, NpyArray> arrays = NpzReader.Load(npz);
        Assert.Equal(new[] { 9, 5, 2 }, arrays["tracks"].Shape.ToArray());
        Assert.Equal(new[] { 9, 5 }, arrays["occluded"].Shape.ToArray());
        Assert.Equal(new[] { 9, 5 }, arrays["occlusion_prob"].Shape.ToArray());
        Assert.Equal(new[] { 9, 5 }, arrays["uncertainty"].Shape.ToArray());
        Assert.Equal(new[] { 9, 3 }, arrays["query_points"].Shape.ToArray());
        bool[] occluded = arrays["occluded"].Bool;
        float[] tracks = arrays["tracks"].Float32;
        // Before the query frame the points do not exist yet: query position, occluded.
        for (int i = 0; i < 9; i++)
        {
            for (int t = 0; t < 2; t++) Assert.True(occluded[i * 5 + t]);
            Assert.True(float.IsFinite(tracks[2 * (i * 5 + 4)]));
        }
        Assert.Equal(80f / 6, tracks[0], 3); // point 0 = first grid cell centre (x)
        Assert.Contains("method tapir", output);
    }

    [Fact]
    public void Track_rejects_bad_points_and_a_missing_input_clearly()
    {
        string video = WriteVideo(frames: 2, width: 64, height: 64);
        var (rc, output) = CliRunner.Run("track", video, "--points", "10,10;oops");
        Assert.Equal(2, rc);
        Assert.Contains("bad point 'oops'", output);

        (rc, output) = CliRunner.Run("track", video, "--points", "10,999");
        Assert.Equal(2, rc);
        Assert.Contains("outside the 64x64 image", output);

        (rc, output) = CliRunner.Run("track", Path.Combine(_dir, "nope.mp4"), "--grid", "2");
        Assert.Equal(2, rc);
        Assert.Contains("does not exist", output);

        (rc, output) = CliRunner.Run("track", video);
        Assert.NotEqual(0, rc);
        Assert.Contains("--points", output);
    }

    [Fact]
    public void Track_reads_a_folder_of_frames()
    {
        string video = WriteVideo(frames: 3, width: 64, height: 48);
        string frames = Path.Combine(_dir, "frames");
        Directory.CreateDirectory(frames);
        using (var ffmpeg = System.Diagnostics.Process.Start("ffmpeg", ["-v", "error", "-i", video, Path.Combine(frames, "%03d.png")]))
        {
            ffmpeg.WaitForExit();
            Assert.Equal(0, ffmpeg.ExitCode);
        }
        string csv = Path.Combine(_dir, "dir.csv");
        var (rc, output) = CliRunner.Run("track", frames, "--points", "32,24", "--out", csv, "--method", "gmrw");
        Assert.True(rc == 0, output);
        Assert.Equal(1 + 3, File.ReadAllLines(csv).Length);
        Assert.Contains("tracked 3 frames (64x48), 1 points", output);
    }

    // ------------------------------------------------------------------------------------------------ model choice
    [Fact]
    public void An_unknown_model_is_a_clear_error_that_lists_the_models()
    {
        string video = WriteVideo(frames: 2, width: 64, height: 64);
        var (rc, output) = CliRunner.Run("track", video, "--grid", "2", "--model", "missing");
        Assert.Equal(2, rc);
        Assert.Contains("model 'missing' not found", output);
        Assert.Contains("Available models: tiny", output);
    }

    [Fact]
    public void The_default_model_is_the_only_one_the_marked_one_or_the_environment_choice()
    {
        Assert.Equal("tiny", ModelCatalog.FolderName(ModelResolver.Resolve(null)));

        TestModels.CopyTo(_models, "other");
        var error = Assert.Throws<CliException>(() => ModelResolver.Resolve(null));
        Assert.Contains("other, tiny", error.Message);
        Assert.Contains(ModelResolver.DefaultModelVariable, error.Message);

        Environment.SetEnvironmentVariable(ModelResolver.DefaultModelVariable, "other");
        Assert.Equal("other", ModelCatalog.FolderName(ModelResolver.Resolve(null)));
        Environment.SetEnvironmentVariable(ModelResolver.DefaultModelVariable, null);

        string card = Path.Combine(_models, "tiny", "model.json");
        File.WriteAllText(card, File.ReadAllText(card).TrimStart().Insert(1, "\"default\": true,"));
        Assert.Equal("tiny", ModelCatalog.FolderName(ModelResolver.Resolve(null)));

        Assert.Equal("other", ModelCatalog.FolderName(ModelResolver.Resolve(Path.Combine(_models, "other")))); // a directory path works too
    }

    // ------------------------------------------------------------------------------------------------ eval / predict
    [Fact]
    public void Eval_prints_a_table_and_json_that_parses()
    {
        string dataset = Path.Combine(_dir, "dataset");
        Directory.CreateDirectory(dataset);
        MakeExample("clip_a", [0, 2, 4]).Save(Path.Combine(dataset, "clip_a.npz"));
        MakeExample("clip_b", [1, 3]).Save(Path.Combine(dataset, "clip_b.npz"));

        var (rc, output) = CliRunner.Run("eval", dataset, "--mode", "first");
        Assert.True(rc == 0, output);
        Assert.Contains("TAP-Vid metrics (x100), query mode first", output);
        Assert.Contains("clip_a", output);
        Assert.Contains("mean (2 videos)", output);
        Assert.Contains("ms/frame", output);

        (rc, output) = CliRunner.Run("eval", dataset, "--mode", "strided", "--json", "--limit-videos", "1", "--max-frames", "5", "--method", "gmrw");
        Assert.True(rc == 0, output);
        using JsonDocument doc = JsonDocument.Parse(output.Trim().Split('\n')[^1]);
        Assert.Equal("strided", doc.RootElement.GetProperty("query_mode").GetString());
        Assert.Equal(1, doc.RootElement.GetProperty("num_videos").GetInt32());
        JsonElement mean = doc.RootElement.GetProperty("mean");
        Assert.Equal(3, mean.GetProperty("num_points").GetInt32());
        Assert.Equal(3 * 4, mean.GetProperty("evaluated_pairs").GetInt32()); // 5 frames, every frame but the query
        double aj = mean.GetProperty("average_jaccard").GetDouble();
        Assert.InRange(aj, 0, 1);
        Assert.Equal(5, doc.RootElement.GetProperty("videos")[0].GetProperty("num_frames").GetInt32());
        Assert.Contains("tiny (gmrw)", doc.RootElement.GetProperty("model").GetString());
    }

    [Fact]
    public void Predict_writes_the_prediction_and_strided_mode_fills_frames_before_the_query()
    {
        int[] queryFrames = [0, 3, 5];
        TapVidExample example = MakeExample("clip", queryFrames, groundTruth: false);
        string input = Path.Combine(_dir, "clip.npz"), first = Path.Combine(_dir, "first.npz"), strided = Path.Combine(_dir, "strided.npz");
        example.Save(input);

        var (rc, output) = CliRunner.Run("predict", input, "--out", first, "--mode", "first");
        Assert.True(rc == 0, output);
        Assert.Contains("tracks [3,6,2], occluded, occlusion_probability, uncertainty [3,6]", output);
        (rc, output) = CliRunner.Run("predict", input, "--out", strided, "--mode", "strided");
        Assert.True(rc == 0, output);

        TapVidPrediction a = TapVidPrediction.Load(first, 3, 6), b = TapVidPrediction.Load(strided, 3, 6);
        bool strideDiffers = false;
        for (int i = 0; i < 3; i++)
        {
            (float qx, float qy) = example.QueryPosition(i);
            for (int t = 0; t < 6; t++)
            {
                int k = i * 6 + t;
                if (t < queryFrames[i])
                {
                    // first: causal, nothing is known before the query frame
                    Assert.True(a.Occluded[k]);
                    Assert.Equal((qx, qy), (a.Tracks[2 * k], a.Tracks[2 * k + 1]));
                    // strided: tracked backwards from the query frame
                    Assert.True(float.IsFinite(b.Tracks[2 * k]) && float.IsFinite(b.Tracks[2 * k + 1]));
                    strideDiffers |= b.Occluded[k] != a.Occluded[k] || b.Tracks[2 * k] != a.Tracks[2 * k] || b.Tracks[2 * k + 1] != a.Tracks[2 * k + 1];
                }
                else
                {
                    // the forward pass is the same causal run in both modes
                    Assert.Equal(a.Occluded[k], b.Occluded[k]);
                    Assert.Equal(a.Tracks[2 * k], b.Tracks[2 * k], 3);
                    Assert.Equal(a.Tracks[2 * k + 1], b.Tracks[2 * k + 1], 3);
                }
            }
        }
        Assert.True(strideDiffers, "strided mode produced nothing different before the query frames");

        // The tracker's scores come along for external threshold sweeps: 1 before the query, probabilities after it.
        using var npz = new NpzReader(first);
        float[] occ = npz.Read(TapVidPrediction.OcclusionProbabilityKey).Float32, unc = npz.Read(TapVidPrediction.UncertaintyKey).Float32;
        Assert.Equal(18, occ.Length);
        for (int i = 0; i < 3; i++)
        {
            for (int t = 0; t < 6; t++)
            {
                int k = i * 6 + t;
                if (t < queryFrames[i]) Assert.Equal((1f, 1f), (occ[k], unc[k]));
                else Assert.True(occ[k] is >= 0 and <= 1 && unc[k] is >= 0 and <= 1, $"point {i} frame {t}: occ {occ[k]}, unc {unc[k]}");
            }
        }
        Assert.Contains(occ, v => v < 1f);
    }

    [Fact]
    public void Eval_refuses_a_folder_without_videos()
    {
        string empty = Path.Combine(_dir, "empty");
        Directory.CreateDirectory(empty);
        var (rc, output) = CliRunner.Run("eval", empty);
        Assert.Equal(2, rc);
        Assert.Contains("no .npz files", output);
    }

    // ------------------------------------------------------------------------------------------------ models
    [Fact]
    public void Models_lists_a_good_model_and_flags_a_tampered_file()
    {
        var (rc, output) = CliRunner.Run("models");
        Assert.True(rc == 0, output);
        Assert.Contains("tiny", output);
        Assert.Contains("random-init tiny TAPIR + tiny GMRW", output);
        Assert.Contains("tapir (tiny) + gmrw (tiny), input 128x128", output);
        Assert.Contains("sha256: OK (5 files)", output);
        Assert.Contains("(default: tiny)", output);

        string tampered = TestModels.CopyTo(_models, "tampered");
        using (var f = File.Open(Path.Combine(tampered, "step.onnx"), FileMode.Append)) f.WriteByte(0);
        (rc, output) = CliRunner.Run("models");
        Assert.Equal(1, rc);
        Assert.Contains("sha256: FAILED", output);
        Assert.Contains("step.onnx: sha256 mismatch", output);
        Assert.Equal(1, output.Split('\n').Count(l => l.Contains("sha256: OK")));
    }

    // ------------------------------------------------------------------------------------------------ bench
    [Fact]
    public void Bench_json_reports_every_stage_fps_and_memory()
    {
        var (rc, output) = CliRunner.Run("bench", "--points", "4", "--frames", "5", "--warmup", "1", "--width", "96", "--height", "64", "--json");
        Assert.True(rc == 0, output);
        using JsonDocument doc = JsonDocument.Parse(output.Trim().Split('\n')[^1]);
        JsonElement root = doc.RootElement;
        Assert.Contains("cores", root.GetProperty("machine").GetString());
        Assert.Equal("tiny", root.GetProperty("model").GetString());
        Assert.Equal("fused", root.GetProperty("method").GetString());
        JsonElement result = Assert.Single(root.GetProperty("results").EnumerateArray());
        Assert.Equal(4, result.GetProperty("points").GetInt32());
        Assert.True(result.GetProperty("fps").GetDouble() > 0);
        JsonElement stages = result.GetProperty("stages");
        foreach (string stage in new[] { "decode", "preprocess", "encoder", "query", "step", "local", "fuse", "track_total", "frame_total" })
        {
            JsonElement s = stages.GetProperty(stage);
            Assert.True(s.ValueKind == JsonValueKind.Object, $"{stage}: {s} ({root.GetProperty("decode_note")})");
            Assert.True(s.GetProperty("p99_ms").GetDouble() >= s.GetProperty("p50_ms").GetDouble(), stage);
        }
        Assert.True(stages.GetProperty("encoder").GetProperty("p50_ms").GetDouble() > 0);
        Assert.True(stages.GetProperty("local").GetProperty("p50_ms").GetDouble() > 0);
        Assert.True(result.GetProperty("query_add_all_ms").GetDouble() > 0);
        Assert.True(result.GetProperty("allocated_bytes_per_frame").GetDouble() >= 0);
        Assert.True(result.GetProperty("state_bytes_per_point").GetInt64() > 0);
    }

    [Fact]
    public void Bench_runs_on_frames_of_a_given_video_with_one_method()
    {
        string video = WriteVideo(frames: 3, width: 80, height: 64);
        var (rc, output) = CliRunner.Run("bench", "--video", video, "--points", "2,3", "--frames", "2", "--warmup", "0", "--method", "tapir");
        Assert.True(rc == 0, output);
        Assert.Contains("first 3 frames of", output);
        Assert.Contains("80x64", output);
        Assert.Contains("method tapir", output);
        Assert.Contains("machine:", output);
        Assert.Matches(@"(?m)^\s+3\s+[0-9.]+\s", output); // a row for 3 points
    }

    [Fact]
    public void Bench_rejects_bad_point_counts_and_keeps_the_server_subcommand()
    {
        var (rc, output) = CliRunner.Run("bench", "--points", "4,x");
        Assert.NotEqual(0, rc);
        Assert.Contains("--points must be", output);
        (rc, output) = CliRunner.Run("bench", "server", "--help");
        Assert.Equal(0, rc);
        Assert.Contains("--streams", output);
    }

    [Fact]
    public void Bench_soak_reports_memory_per_sample_and_growth_per_phase()
    {
        var (rc, output) = CliRunner.Run("bench", "soak", "--cycles", "4", "--sample-every", "2", "--cycle-frames", "2", "--points", "8",
            "--minutes", "0.05", "--streams", "1", "--round-seconds", "2", "--fps", "10", "--width", "160", "--json");
        Assert.True(rc == 0, output);
        using JsonDocument doc = JsonDocument.Parse(output.Trim().Split('\n')[^1]);
        JsonElement[] samples = [.. doc.RootElement.GetProperty("samples").EnumerateArray()];
        Assert.Equal(["start", "cycles", "cycles"], samples.Take(3).Select(s => s.GetProperty("Phase").GetString()));
        Assert.Equal([0, 2, 4], samples.Take(3).Select(s => s.GetProperty("Cycles").GetInt32()));
        Assert.Contains(samples, s => s.GetProperty("Phase").GetString() == "streams" && s.GetProperty("Processed").GetInt64() > 0);
        Assert.All(samples, s => Assert.True(s.GetProperty("RssMb").GetDouble() > s.GetProperty("ManagedLiveMb").GetDouble()));
        JsonElement growth = doc.RootElement.GetProperty("rss_growth");
        Assert.Contains(growth.EnumerateArray(), g => g.GetProperty("phase").GetString() == "cycles");
        (rc, output) = CliRunner.Run("bench", "soak", "--cycles", "-1");
        Assert.NotEqual(0, rc);
        Assert.Contains("--cycles must be", output);
    }

    // ------------------------------------------------------------------------------------------------ helpers
    private string WriteVideo(int frames, int width, int height)
    {
        string path = Path.Combine(_dir, $"clip_{frames}_{width}x{height}.mp4");
        using var writer = new VideoWriter(path, width, height, 10);
        for (int t = 0; t < frames; t++)
        {
            using RgbImage frame = ModelBenchmark.Procedural(width, height, t);
            writer.WriteFrame(frame);
        }
        writer.Complete();
        return path;
    }

    /// <summary>A 6-frame 64x64 TAP-Vid example whose points stay where they are queried (ground truth: static, visible).</summary>
    private static TapVidExample MakeExample(string name, int[] queryFrames, bool groundTruth = true)
    {
        const int T = 6, H = 64, W = 64;
        var video = new byte[T * H * W * 3];
        for (int t = 0; t < T; t++)
        {
            using RgbImage frame = ModelBenchmark.Procedural(W, H, t);
            frame.Pixels.CopyTo(video.AsSpan(t * H * W * 3));
        }
        int n = queryFrames.Length;
        var query = new float[n * 3];
        var target = new float[n * T * 2];
        var occluded = new bool[n * T];
        for (int i = 0; i < n; i++)
        {
            float x = 12 + 15 * i, y = 20 + 10 * i;
            query[3 * i] = queryFrames[i];
            query[3 * i + 1] = y;
            query[3 * i + 2] = x;
            for (int t = 0; t < T; t++)
            {
                target[2 * (i * T + t)] = x + 3 * (t - queryFrames[i]);
                target[2 * (i * T + t) + 1] = y + 2 * (t - queryFrames[i]);
            }
        }
        return new TapVidExample(NpyArray.Create(video, T, H, W, 3), query, groundTruth ? target : null, groundTruth ? occluded : null, null, name);
    }
}
