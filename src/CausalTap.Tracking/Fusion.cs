namespace CausalTap.Tracking;

/// <summary>
/// How each <see cref="TrackingMethod"/> turns model outputs into a published estimate. Pure functions, shared by
/// <see cref="StreamTracker"/> and the tests (and mirrored by <c>training/scripts/make_engine_reference.py</c>).
/// <para><b>TAPIR</b>: position = step's position; occ = σ(occlusion_logit), unc = σ(expected_dist_logit);
/// visible ⇔ (1 − occ)(1 − unc) &gt; 0.5 (the TAPIR paper's rule).</para>
/// <para><b>GMRW</b>: position = forward match of the point's own previous GMRW position (its query on the query
/// frame); consistent ⇔ fb_error &lt; threshold and the position lies inside the image; visible ⇔ consistent;
/// occlusion probability and uncertainty are the heuristic fb / (fb + threshold) (0.5 at the threshold; 1 outside).</para>
/// <para><b>Fused</b> (GMRW matches from the previous <i>fused</i> position): TAPIR is the primary estimate because it
/// re-detects every point on the whole frame and so recovers from occlusions and drift; GMRW's frame-to-frame match is
/// used only where TAPIR is unsure of the position but does not claim the point is occluded:
/// <list type="number">
/// <item>TAPIR visible → TAPIR position, visible;</item>
/// <item>else GMRW consistent and occ &lt; 0.5 → GMRW position, visible;</item>
/// <item>else → TAPIR position (its re-detection is still the best guess), not visible.</item>
/// </list>
/// Occlusion probability and uncertainty are TAPIR's. Because GMRW continues from the fused position, a TAPIR
/// re-detection also re-anchors the GMRW chain. Each method is selectable alone so that the rule can be measured
/// against its parts once trained weights exist.</para>
/// <para><b>TapirLk</b> (the default for a model with TAPIR graphs only): pyramidal Lucas-Kanade
/// (<see cref="LucasKanade.PyramidalLucasKanade"/>) is the precise frame-to-frame tracker, starting from the point's
/// previous published position (its exact query on the query frame); TAPIR re-detects. "Far" means a visible TAPIR
/// estimate more than <see cref="RedetectDistancePx"/> from where the point is without TAPIR (LK's position, or the
/// held one when LK lost it); a far re-detection is taken only when it persists for
/// <see cref="RedetectConfirmFrames"/> frames in a row, since one confident TAPIR frame on a look-alike is common:
/// <list type="number">
/// <item>far, not yet confirmed → LK position, visible (or, LK lost, the held position, not visible);</item>
/// <item>LK passed its forward-backward check and TAPIR is not far → LK position, visible;</item>
/// <item>else TAPIR visible → TAPIR position (re-detection after drift or occlusion), visible;</item>
/// <item>else → the previous position is held (a hidden point stays where it was last seen), not visible.</item>
/// </list>
/// Occlusion probability and uncertainty are TAPIR's. Measured on the development split (README, "Tracking
/// methods"), this beats both parts: LK alone drifts and never recovers, TAPIR alone is coarse.</para>
/// </summary>
public static class Fusion
{
    /// <summary>σ(x) = 1 / (1 + e^−x).</summary>
    public static float Sigmoid(float x) => 1f / (1f + MathF.Exp(-x));

    /// <summary>TAPIR's visibility rule: (1 − σ(occ))(1 − σ(expd)) &gt; 0.5.</summary>
    public static bool TapirVisible(float occlusionLogit, float expectedDistLogit) =>
        (1f - Sigmoid(occlusionLogit)) * (1f - Sigmoid(expectedDistLogit)) > 0.5f;

    /// <summary>GMRW's consistency: fb_error &lt; threshold and (x, y) within [0, W] x [0, H] (model px).</summary>
    public static bool GmrwConsistent(float x, float y, float fbError, float threshold, int width, int height) =>
        fbError < threshold && x >= 0 && y >= 0 && x <= width && y <= height;

    /// <summary>GMRW's occlusion heuristic fb / (fb + threshold); 1 when not inside the image.</summary>
    public static float GmrwOcclusion(float x, float y, float fbError, float threshold, int width, int height) =>
        x >= 0 && y >= 0 && x <= width && y <= height ? fbError / (fbError + threshold) : 1f;

    /// <summary>The Fused rule (see the class summary). Returns whether GMRW's position was used.</summary>
    public static bool Fuse(float tapirX, float tapirY, float occlusionLogit, float expectedDistLogit,
        float gmrwX, float gmrwY, float fbError, float threshold, int width, int height,
        out float x, out float y, out bool visible)
    {
        var occ = Sigmoid(occlusionLogit);
        var unc = Sigmoid(expectedDistLogit);
        var tapirVisible = (1f - occ) * (1f - unc) > 0.5f;
        var useGmrw = !tapirVisible && occ < 0.5f && GmrwConsistent(gmrwX, gmrwY, fbError, threshold, width, height);
        x = useGmrw ? gmrwX : tapirX;
        y = useGmrw ? gmrwY : tapirY;
        visible = tapirVisible || useGmrw;
        return useGmrw;
    }

    /// <summary>
    /// TapirLk: how far (model px, L1) LK's position may be from a visible TAPIR position before TAPIR's re-detection
    /// wins. Two cells of TAPIR's 8-px coarse grid; AJ on the development split is flat from 12 to 24.
    /// </summary>
    public const float RedetectDistancePx = 16f;

    /// <summary>TapirLk: frames in a row a far TAPIR re-detection must persist before it replaces the point.</summary>
    public const int RedetectConfirmFrames = 2;

    /// <summary>
    /// The TapirLk rule (see the class summary) for a point after its query frame; positions in model px.
    /// <paramref name="farFrames"/> is the point's count of consecutive far re-detections, kept by the caller.
    /// </summary>
    public static void FuseLocal(float tapirX, float tapirY, float occlusionLogit, float expectedDistLogit,
        float lkX, float lkY, bool lkTracked, float previousX, float previousY, ref int farFrames,
        out float x, out float y, out bool visible)
    {
        var tapirVisible = TapirVisible(occlusionLogit, expectedDistLogit);
        float ownX = lkTracked ? lkX : previousX, ownY = lkTracked ? lkY : previousY;
        var far = tapirVisible && MathF.Abs(ownX - tapirX) + MathF.Abs(ownY - tapirY) > RedetectDistancePx;
        farFrames = far ? farFrames + 1 : 0;
        if (far && farFrames < RedetectConfirmFrames)
        {
            (x, y, visible) = (ownX, ownY, lkTracked);
            return;
        }
        if (far) farFrames = 0; // the re-detection is taken: start counting afresh from it
        (x, y, visible) = lkTracked && !far ? (lkX, lkY, true)
            : tapirVisible ? (tapirX, tapirY, true)
            : (previousX, previousY, false);
    }
}
