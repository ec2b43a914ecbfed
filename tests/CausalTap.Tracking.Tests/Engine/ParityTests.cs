using CausalTap.Tracking.Evaluation;
using Xunit.Abstractions;

namespace CausalTap.Tracking.Tests.Engine;

/// <summary>
/// The engine's per-frame outputs equal the PyTorch online reference (training/ code) on the fixture clip, for the
/// small preset and the official shapes (BootsTAPIR + official GMRW, fixture weights), in every method, with points
/// added on frame 0 and mid-clip and one removed mid-clip (schedule in make_engine_reference.py).
/// </summary>
[Collection("Engine")]
public sealed class ParityTests(EngineModels models, ITestOutputHelper output)
{
    /// <summary>The issue's acceptance: TAPIR positions within 1e-3 px, logits within 1e-4.</summary>
    private const float PositionTolerance = 1e-3f;
    private const float LogitTolerance = 1e-4f;

    /// <summary>
    /// GMRW outputs: one gmrw_match call through ORT differs from PyTorch by up to ~1.4e-3 px (official shapes) — the
    /// soft-argmax over a 6-layer transformer with random fixture weights. The official GMRW code itself moves its
    /// flows by 5.5e-3 px and fb distances by 1.2e-2 px between a 1-thread and a 2-thread run
    /// (shared/fixtures/gmrw/tolerance.json), so 1e-3 is below GMRW's own noise floor; these bounds sit at that floor.
    /// </summary>
    private const float GmrwPositionTolerance = 5e-3f;
    private const float FbTolerance = 5e-2f;

    public static TheoryData<string, TrackingMethod> Cases()
    {
        var data = new TheoryData<string, TrackingMethod>();
        foreach (var preset in EngineReference.Presets)
        {
            foreach (var method in new[] { TrackingMethod.Tapir, TrackingMethod.Gmrw, TrackingMethod.Fused })
            {
                data.Add(preset, method);
            }
        }
        return data;
    }

    /// <summary>
    /// Per frame, given the same inputs: GMRW's chain position (what the next frame matches from) is set to the
    /// reference's previous position before each frame, so each frame's GMRW output is compared on its own (a
    /// free-running chain amplifies float noise frame after frame; see <see cref="FreeRunningChainStaysClose"/>).
    /// TAPIR has no such input: its state evolves inside the engine for the whole clip.
    /// </summary>
    [EngineTheory]
    [MemberData(nameof(Cases))]
    public void MatchesPyTorchOnlineReference(string preset, TrackingMethod method) =>
        Compare(preset, method, teacherForced: true, PositionTolerance);

    /// <summary>The free-running chained engine (no resets) stays within a looser bound of the reference.</summary>
    [EngineTheory]
    [InlineData("small", TrackingMethod.Gmrw)]
    [InlineData("small", TrackingMethod.Fused)]
    [InlineData("official", TrackingMethod.Gmrw)]
    public void FreeRunningChainStaysClose(string preset, TrackingMethod method) =>
        Compare(preset, method, teacherForced: false, 0.1f);

    private void Compare(string preset, TrackingMethod method, bool teacherForced, float positionTolerance)
    {
        var reference = models.Reference(preset);
        var model = models.Get(preset);
        var frames = EngineReference.Frames(reference);
        var addFrame = reference["add_frame"].Int32;
        var addXy = reference["add_xy"].Float32;
        var removeFrame = reference["remove_frame"].Int32;
        int t = frames.Length, p = addFrame.Length;
        var ids = new int[p];

        float posErr = 0, gmrwPosErr = 0, occErr = 0, expErr = 0, fbErr = 0;
        int compared = 0, visibleMismatch = 0;
        using var tracker = new StreamTracker(model, method);
        for (var f = 0; f < t; f++)
        {
            for (var i = 0; i < p; i++)
            {
                if (removeFrame[i] == f)
                {
                    Assert.True(tracker.RemovePoint(ids[i]));
                }
            }
            for (var i = 0; i < p; i++)
            {
                if (addFrame[i] == f)
                {
                    ids[i] = tracker.AddPoint(addXy[2 * i], addXy[2 * i + 1]);
                }
            }
            if (teacherForced && f > 0 && method != TrackingMethod.Tapir)
            {
                var chain = reference[method == TrackingMethod.Gmrw ? "gmrw_position" : "fused_position"].Float32;
                for (var i = 0; i < p; i++)
                {
                    if (addFrame[i] < f && (removeFrame[i] < 0 || removeFrame[i] > f))
                    {
                        tracker.OverrideChainPosition(ids[i], chain[((f - 1) * p + i) * 2], chain[((f - 1) * p + i) * 2 + 1]);
                    }
                }
            }
            var result = tracker.Track(frames[f]);
            Assert.Equal(f, result.FrameIndex);
            var expectedIds = Enumerable.Range(0, p).Where(i => addFrame[i] <= f && (removeFrame[i] < 0 || removeFrame[i] > f)).Select(i => ids[i]).ToArray();
            Assert.Equal(expectedIds, result.Points.ToArray().Select(e => e.Id).ToArray());
            for (var k = 0; k < result.Points.Length; k++)
            {
                var est = result.Points[k];
                var d = result.Diagnostics[k];
                var i = Array.IndexOf(ids, est.Id);
                compared++;
                switch (method)
                {
                    case TrackingMethod.Tapir:
                        posErr = Math.Max(posErr, Dist(est.X, est.Y, reference["tapir_position"].Float32, (f * p + i) * 2));
                        occErr = Math.Max(occErr, Math.Abs(d.OcclusionLogit - reference["tapir_occlusion_logit"].Float32[f * p + i]));
                        expErr = Math.Max(expErr, Math.Abs(d.ExpectedDistLogit - reference["tapir_expected_dist_logit"].Float32[f * p + i]));
                        break;
                    case TrackingMethod.Gmrw:
                        gmrwPosErr = Math.Max(gmrwPosErr, Dist(est.X, est.Y, reference["gmrw_position"].Float32, (f * p + i) * 2));
                        fbErr = Math.Max(fbErr, Math.Abs(d.FbError - reference["gmrw_fb_error"].Float32[f * p + i]));
                        break;
                    default:
                        var fromGmrw = est.X == d.GmrwX && est.Y == d.GmrwY && !(est.X == d.TapirX && est.Y == d.TapirY);
                        var e = Dist(est.X, est.Y, reference["fused_position"].Float32, (f * p + i) * 2);
                        if (fromGmrw)
                        {
                            gmrwPosErr = Math.Max(gmrwPosErr, e);
                        }
                        else
                        {
                            posErr = Math.Max(posErr, e);
                        }
                        occErr = Math.Max(occErr, Math.Abs(d.OcclusionLogit - reference["tapir_occlusion_logit"].Float32[f * p + i]));
                        expErr = Math.Max(expErr, Math.Abs(d.ExpectedDistLogit - reference["tapir_expected_dist_logit"].Float32[f * p + i]));
                        fbErr = Math.Max(fbErr, Math.Abs(d.FbError - reference["fused_fb_error"].Float32[f * p + i]));
                        visibleMismatch += est.Visible == (reference["fused_visible"].Float32[f * p + i] > 0.5f) ? 0 : 1;
                        break;
                }
            }
        }
        output.WriteLine($"{preset} {method} ({(teacherForced ? "per frame" : "free-running")}): {compared} point-frames; max |Δx|,|Δy| from TAPIR {posErr:E2} px, from GMRW {gmrwPosErr:E2} px, |Δocc logit| {occErr:E2}, " +
                         $"|Δexpd logit| {expErr:E2}, |Δfb| {fbErr:E2} px, visibility mismatches {visibleMismatch}");
        Assert.True(posErr <= positionTolerance, $"position differs by {posErr} px (tolerance {positionTolerance})");
        Assert.True(occErr <= LogitTolerance, $"occlusion logit differs by {occErr} (tolerance {LogitTolerance})");
        Assert.True(expErr <= LogitTolerance, $"expected-distance logit differs by {expErr} (tolerance {LogitTolerance})");
        var gmrwTolerance = Math.Max(positionTolerance, GmrwPositionTolerance);
        Assert.True(gmrwPosErr <= gmrwTolerance, $"GMRW position differs by {gmrwPosErr} px (tolerance {gmrwTolerance})");
        Assert.True(fbErr <= Math.Max(positionTolerance, FbTolerance), $"fb error differs by {fbErr} px (tolerance {FbTolerance})");
        Assert.Equal(0, visibleMismatch);
    }

    private static float Dist(float x, float y, float[] xy, int offset)
    {
        Assert.False(float.IsNaN(xy[offset]), "the reference has no estimate for a point the engine reports");
        return MathF.Max(MathF.Abs(x - xy[offset]), MathF.Abs(y - xy[offset + 1]));
    }
}
