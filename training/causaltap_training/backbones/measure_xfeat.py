"""Measures the XFeat backbone for a tracker: ONNX Runtime CPU time per input size and thread count, and the
zero-training nearest-neighbour quality of its maps on TAP-Vid clips (query_first, every point visible).

  cd training && /usr/bin/python3 -m causaltap_training.backbones.measure_xfeat --sizes 256 320 384 448 512 \
      --threads 1 2 --out ../runs/xfeat_measure [--skip-timing] [--skip-nn]

Timing: the backbone up to the descriptors (+ the 1/4 map) exported at each size, `causaltap onnx-run --repeat 20`.
NN: each query's L2-normalised feature (bilinear at the query) against every later frame's map, argmax cell, then a
3x3 softmax-weighted (temperature 20) average of cell centres around it; positions in the clip's 256 px frame.
"""
from __future__ import annotations

import argparse
import glob
import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..tapir.sampling import raster_to_grid_units, sample_points
from ..train import metrics
from .xfeat import XFeatBackbone, pretrained_dir, upsample_to

REPO_ROOT = Path(__file__).resolve().parents[3]


class _Export(torch.nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, frame):
        m = self.net(frame)
        return m.descriptors, m.s4


def candidate_maps(m):
    """name -> [T, C, h, w] map (not normalised) of one XFeatMaps."""
    d = m.descriptors
    return {"desc_1/8": d, "fused_1/8": m.fused, "s8_1/8": m.s8, "s4_1/4": m.s4,
            "desc_up_1/4": upsample_to(d, *m.s4.shape[-2:])}


def nn_track(fmap: torch.Tensor, query_points: np.ndarray, size: int, clip_hw=(256, 256)) -> np.ndarray:
    """[T, C, h, w] map, queries (t, y, x) in clip pixels -> predicted tracks [N, T, 2] (x, y) clip pixels."""
    t, c, h, w = fmap.shape
    f = F.normalize(fmap, dim=1)
    q = torch.from_numpy(query_points).float()
    xy = torch.flip(q[:, 1:3], dims=(-1,)) * torch.tensor([size / clip_hw[1], size / clip_hw[0]])
    pos = raster_to_grid_units(xy.unsqueeze(0), (size, size), (h, w))  # [1, N, 2] cell units
    qt = q[:, 0].round().long()
    feats = sample_points(f, pos.expand(t, -1, -1), "border")  # [T, N, C]
    qf = F.normalize(feats[qt, torch.arange(len(qt))], dim=-1)  # [N, C]
    sim = torch.einsum("nc,tchw->nthw", qf, f)  # [N, T, h, w]
    n = sim.shape[0]
    flat = sim.reshape(n, t, -1)
    best = flat.argmax(-1)
    by, bx = best // w, best % w
    ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    win = ((ys.view(1, 1, h, w) - by[..., None, None]).abs() <= 1) & ((xs.view(1, 1, h, w) - bx[..., None, None]).abs() <= 1)
    wgt = torch.softmax(torch.where(win, sim * 20, torch.full_like(sim, -1e9)).reshape(n, t, -1), -1).reshape(n, t, h, w)
    cx = (wgt * (xs + 0.5)).sum((-1, -2)) * (clip_hw[1] / w)
    cy = (wgt * (ys + 0.5)).sum((-1, -2)) * (clip_hw[0] / h)
    return torch.stack([cx, cy], -1).numpy()


def nn_quality(net, clips, sizes):
    rows = []
    for size in sizes:
        per_map = {}
        for path in clips:
            d = np.load(path)
            video = torch.from_numpy(d["video"]).permute(0, 3, 1, 2).float() / 127.5 - 1
            video = F.interpolate(video, (size, size), mode="bilinear", align_corners=False)
            with torch.no_grad():
                maps = candidate_maps(net(video))
                for name, fm in maps.items():
                    pred = nn_track(fm, d["query_points"], size, d["video"].shape[1:3])
                    occ = np.zeros(d["occluded"].shape, bool)
                    per_map.setdefault(name, []).append(metrics.tapvid_metrics(
                        d["query_points"], d["occluded"], d["target_points"], occ, pred, "first"))
        for name, r in per_map.items():
            m = metrics.average(r)
            rows.append({"size": size, "map": name, **{k: round(100 * v, 1) for k, v in m.items()}})
            print(json.dumps(rows[-1]), flush=True)
    return rows


def timing(net, sizes, threads, out_dir):
    from ..export import runner

    rows = []
    for size in sizes:
        path = out_dir / f"xfeat_{size}.onnx"
        torch.onnx.export(_Export(net).eval(), (torch.zeros(1, 3, size, size),), str(path), opset_version=17,
                          input_names=["frame"], output_names=["descriptors", "s4"])
        frame = np.random.default_rng(0).uniform(-1, 1, (1, 3, size, size)).astype(np.float32)
        for th in threads:
            _, t, _ = runner.onnx_run_timed(path, {"frame": frame}, threads=th, repeat=20, warmup=2)
            rows.append({"size": size, "threads": th, "median_ms": t.get("median_ms"), "timing": t})
            print(json.dumps(rows[-1]), flush=True)
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--sizes", type=int, nargs="+", default=[256, 320, 384, 448, 512])
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--data", type=Path, default=None, help="TAP-Vid npz folder (default shared tapvid_davis32_dev)")
    p.add_argument("--out", type=Path, default=REPO_ROOT / "runs" / "xfeat_measure")
    p.add_argument("--skip-timing", action="store_true")
    p.add_argument("--skip-nn", action="store_true")
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    a.out.mkdir(parents=True, exist_ok=True)
    net = XFeatBackbone.from_onnx(pretrained_dir() / "xfeat.onnx")
    if not a.skip_timing:
        (a.out / "timing.json").write_text(json.dumps(timing(net, a.sizes, a.threads, a.out), indent=1))
    if not a.skip_nn:
        data = a.data or pretrained_dir().parent / "data" / "tapvid_davis32_dev"
        clips = sorted(glob.glob(str(data / "*.npz")))
        (a.out / "nn.json").write_text(json.dumps(nn_quality(net, clips, a.sizes), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
