"""Builds model directories and PyTorch online references for the C# engine parity test (CausalTap.Tracking).

  /usr/bin/python3 training/scripts/make_engine_reference.py --out .deps/engine-reference/<hash> [--presets small,official]

For each preset it writes `<out>/<preset>/model/` (encoder.onnx, query.onnx, step.onnx, gmrw_encoder.onnx,
gmrw_match.onnx, model.json) with the export engineer's functions, then runs the PyTorch models online, frame by
frame, with the same call pattern the engine uses (`StreamTracker`), and writes `<out>/<preset>/reference.npz`:

  frames            [T,H,W,3] uint8 at model size (the engine resizes by identity)
  add_frame         [P] int32   frame on which point p is added (its query frame)
  add_xy            [P,2] float32 query (x, y) raster model px
  remove_frame      [P] int32   frame before which point p is removed (-1 = never)
  fb_threshold_px   []  float32
  tapir_position    [T,P,2], tapir_occlusion_logit [T,P], tapir_expected_dist_logit [T,P]   (NaN where absent)
  gmrw_position     [T,P,2], gmrw_fb_error [T,P]       Gmrw mode: each point's own forward chain
  fused_position    [T,P,2], fused_visible [T,P] (0/1/NaN), fused_fb_error [T,P]   Fused mode (rule below)

Presets:
  small     TAPIR `small` + GMRW `small`, seeded random weights (our CPU architectures).
  official  causal BootsTAPIR with the tapir_causal fixture weights + official GMRW with the gmrw fixture weights
            (the official shapes; needs ../shared/fixtures).

Fusion rule (must equal CausalTap.Tracking.Fusion): with TAPIR's p_T, occ = sigmoid(occlusion_logit),
unc = sigmoid(expected_dist_logit), tapir_visible = (1-occ)(1-unc) > 0.5, and GMRW's p_G (matched from the
previous fused position) with gmrw_ok = fb_error < threshold and p_G inside the image:
  tapir_visible                 -> p_T, visible
  gmrw_ok and occ < 0.5         -> p_G, visible     (TAPIR unsure where, but not saying occluded)
  otherwise                     -> p_T, not visible
On a point's query frame its GMRW estimate is the query itself (fb_error 0).
Writes `<out>/DONE` last; the C# test treats a directory without it as incomplete.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "training"))

from causaltap_training import fixtures as fx  # noqa: E402
from causaltap_training.export import graphs as g  # noqa: E402
from causaltap_training.export import export_model  # noqa: E402
from causaltap_training.gmrw.matching import point_flow  # noqa: E402
from causaltap_training.gmrw.model import GMRW, build_gmrw  # noqa: E402
from causaltap_training.tapir import state as causal_state  # noqa: E402
from causaltap_training.tapir.config import preset as tapir_preset  # noqa: E402
from causaltap_training.tapir.model import QueryFeatures, Tapir  # noqa: E402


# ------------------------------------------------------------------------------------------------ models
def build_models(name: str):
    if name == "small":
        torch.manual_seed(1234)
        tapir = Tapir(tapir_preset("small")).eval()
        torch.manual_seed(4321)
        gmrw = build_gmrw("small").eval()
    elif name == "official":
        tapir = Tapir(tapir_preset("bootstapir")).eval()
        tapir.load_state_dict({k: torch.from_numpy(v) for k, v in fx.fixture_weights("tapir_causal").items()},
                              strict=True)
        gmrw = build_gmrw("official").eval()
        gmrw.load_state_dict({k: torch.from_numpy(v) for k, v in fx.fixture_weights("gmrw").items()}, strict=True)
    else:
        raise KeyError(name)
    return tapir, gmrw


# ------------------------------------------------------------------------------------------------ schedule
def schedule(name: str, t_len: int, h: int, w: int):
    """Points: 5 added on frame 0, 2 added on frame 2, point 1 removed before frame 3, 1 added on frame 3."""
    rng = np.random.default_rng(7 if name == "small" else 8)
    add_frame = [0, 0, 0, 0, 0, 2, 2, 3]
    xy = np.stack([rng.uniform(12, w - 12, len(add_frame)), rng.uniform(12, h - 12, len(add_frame))], 1)
    if name == "official":  # the fixture's query points (their x, y) have known stage-1 margins
        q = fx.load_npz("tapir_causal", "inputs.npz")["query_points"]
        xy[: min(len(q), len(add_frame))] = q[: len(add_frame), [2, 1]]
    remove = [-1] * len(add_frame)
    remove[1] = 3
    return (np.array(add_frame, np.int32), xy.astype(np.float32), np.array(remove, np.int32))


def fuse(p_t, occ_logit, expd_logit, p_g, fb, thr, h, w):
    occ = 1 / (1 + np.exp(-occ_logit.astype(np.float32)))
    unc = 1 / (1 + np.exp(-expd_logit.astype(np.float32)))
    tvis = (1 - occ) * (1 - unc) > 0.5
    inside = (p_g[:, 0] >= 0) & (p_g[:, 1] >= 0) & (p_g[:, 0] <= w) & (p_g[:, 1] <= h)
    gok = (fb < thr) & inside
    use_g = ~tvis & gok & (occ < 0.5)
    pos = np.where(use_g[:, None], p_g, p_t)
    return pos.astype(np.float32), (tvis | use_g)


@torch.no_grad()
def run_reference(name: str, tapir: Tapir, gmrw: GMRW, frames_u8: np.ndarray) -> dict:
    t_len, h, w, _ = frames_u8.shape
    add_frame, add_xy, remove_frame = schedule(name, t_len, h, w)
    p_total = len(add_frame)
    thr = float(gmrw.config.fb_threshold_px)
    temp = gmrw.config.softmax_temperature
    enc_g = g.GmrwEncoderGraph(gmrw)

    nan = np.float32(np.nan)
    out = {k: np.full((t_len, p_total, 2), nan, np.float32) for k in ("tapir_position", "gmrw_position",
                                                                       "fused_position")}
    for k in ("tapir_occlusion_logit", "tapir_expected_dist_logit", "gmrw_fb_error", "fused_visible",
              "fused_fb_error"):
        out[k] = np.full((t_len, p_total), nan, np.float32)

    active: list = []            # point indices, row order
    q_lo = q_hi = None
    st = None                    # CausalState rows = active
    prev_feat = None
    prev_gmrw = {}               # p -> xy (Gmrw chain)
    prev_fused = {}              # p -> xy (Fused chain)

    def flow(pair_src, pair_dst, pts):
        return point_flow(pair_src, pair_dst, pts, (h, w), temp, "flow")

    for t in range(t_len):
        frame = torch.from_numpy(frames_u8[t]).permute(2, 0, 1)[None].float() / 127.5 - 1.0
        # removals before this frame
        keep = [i for i, p in enumerate(active) if remove_frame[p] != t]
        if len(keep) != len(active):
            idx = torch.tensor(keep, dtype=torch.long)
            active = [active[i] for i in keep]
            q_lo, q_hi = q_lo.index_select(0, idx), q_hi.index_select(0, idx)
            st = causal_state.select_rows(st, idx)
        grids = tapir.encode(frame)
        new = [p for p in range(p_total) if add_frame[p] == t]
        if new:
            pts = torch.from_numpy(add_xy[new])
            q = tapir.query_features(grids, pts)
            zero = tapir.initial_state(len(new))
            if q_lo is None:
                q_lo, q_hi, st = q.lowres, q.hires, zero
            else:
                q_lo, q_hi = torch.cat([q_lo, q.lowres]), torch.cat([q_hi, q.hires])
                st = causal_state.concat_rows(st, zero)
            active = active + new
        feat = enc_g(frame)
        if not active:
            prev_feat = feat
            continue
        res = tapir.step(grids, QueryFeatures(q_lo, q_hi), st)
        st = res.state
        p_t = res.position.numpy()
        occ_l = res.occlusion_logit.numpy()
        exp_l = res.expected_dist_logit.numpy()

        # GMRW for both chains (pair transformer once)
        is_new = np.array([add_frame[p] == t for p in active])
        g_prev = np.stack([add_xy[p] if is_new[i] else prev_gmrw[p] for i, p in enumerate(active)]).astype(np.float32)
        f_prev = np.stack([add_xy[p] if is_new[i] else prev_fused[p] for i, p in enumerate(active)]).astype(np.float32)
        if prev_feat is not None and not is_new.all():
            pair = gmrw.pair(prev_feat, feat)
            res_g = []
            for pts_np in (g_prev, f_prev):
                pts = (torch.from_numpy(pts_np) - 0.5).unsqueeze(0)
                fwd = flow(pair.prev, pair.new, pts)
                new_pts = pts + fwd
                bwd = flow(pair.new, pair.prev, new_pts)
                fb = fwd + bwd
                fb_err = torch.sqrt(torch.sum(fb * fb, dim=-1))
                res_g.append(((new_pts + 0.5)[0].numpy(), fb_err[0].numpy()))
        else:
            res_g = [(g_prev.copy(), np.zeros(len(active), np.float32)), (f_prev.copy(), np.zeros(len(active), np.float32))]
        (g_pos, g_fb), (fg_pos, fg_fb) = res_g
        g_pos = np.where(is_new[:, None], g_prev, g_pos).astype(np.float32)
        g_fb = np.where(is_new, 0, g_fb).astype(np.float32)
        fg_pos = np.where(is_new[:, None], f_prev, fg_pos).astype(np.float32)
        fg_fb = np.where(is_new, 0, fg_fb).astype(np.float32)
        f_pos, f_vis = fuse(p_t, occ_l, exp_l, fg_pos, fg_fb, thr, h, w)

        for i, p in enumerate(active):
            out["tapir_position"][t, p] = p_t[i]
            out["tapir_occlusion_logit"][t, p] = occ_l[i]
            out["tapir_expected_dist_logit"][t, p] = exp_l[i]
            out["gmrw_position"][t, p] = g_pos[i]
            out["gmrw_fb_error"][t, p] = g_fb[i]
            out["fused_position"][t, p] = f_pos[i]
            out["fused_visible"][t, p] = float(f_vis[i])
            out["fused_fb_error"][t, p] = fg_fb[i]
            prev_gmrw[p] = g_pos[i]
            prev_fused[p] = f_pos[i]
        prev_feat = feat

    out.update(frames=frames_u8, add_frame=add_frame, add_xy=add_xy, remove_frame=remove_frame,
               fb_threshold_px=np.float32(thr))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--presets", default="small,official")
    args = ap.parse_args()
    torch.set_num_threads(2)
    frames = fx.load_npz("tapir_causal", "inputs.npz")["frames"]  # [6,256,256,3] uint8
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.presets.split(","):
        pdir = args.out / name
        if (pdir / "reference.npz").exists():
            continue
        tapir, gmrw = build_models(name)
        model_dir = pdir / "model"
        source = "random-init" if name == "small" else "fixture weights (../shared/fixtures tapir_causal, gmrw)"
        export_model(model_dir, name, f"engine parity test model ({name}); not trained", tapir=tapir, gmrw=gmrw,
                     tapir_preset=tapir.config.name, gmrw_preset="small" if name == "small" else "official",
                     provenance={"source": source, "tool": "training/scripts/make_engine_reference.py"})
        ref = run_reference(name, tapir, gmrw, frames)
        tmp = pdir / "reference.tmp.npz"
        np.savez(tmp, **ref)
        tmp.rename(pdir / "reference.npz")
        print(f"{name}: wrote {model_dir} and reference.npz", flush=True)
    (args.out / "DONE").write_text("ok\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
