"""Self-supervised GMRW training (contrastive random walk with label warping), resumable, with TAP-Vid validation.

  cd training && /usr/bin/python3 -m causaltap_training.train.gmrw_train --preset cpu --out ../runs/gmrw1 \
      --steps 3000 [--resume] [--max-minutes 40] [--clip-len 4 --batch 2 --size 256 --threads 2 --real-fraction 0.5]

No labels are used: clips are synthetic (`data/synthetic.py`, tracks ignored) or unlabeled real videos from
../shared/data (robot_real, robot_sim, everyday_real; never tapvid_davis32_dev), decoded once with OpenCV into
a small JPEG frame store under runs/data/gmrw_frames. Loss (`gmrw/walk.py`): cycle cross-entropy of the
palindrome walk a_0 .. a_T -> b_{T-1} .. b_0 through two independently transformed views against the warped
identity, plus --smooth-weight x edge-aware smoothness of every step's flow.

Run folder (same layout as train.supervised): config.json, train.jsonl (loss terms, walk accuracy, grad norm,
lr, s/step), val.jsonl (TAP-Vid metrics of online GMRW tracking on the synthetic validation set), last.pt
(model, optimiser, step, model config, args; every --ckpt-every steps, on --max-minutes and at the end),
step_NNNNNNN.pt snapshots. The data and views of step k are functions of (seed, k) only, so --resume reproduces
an uninterrupted run. Load weights with `load_model(path)`.
"""
from __future__ import annotations

import argparse
import dataclasses
import glob
import json
import os
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch

from ..data.dataset import VAL_TAG, load_clips, make_validation_set
from ..data.synthetic import SyntheticConfig, SyntheticGenerator
from ..gmrw import GMRW, GMRWConfig, get_config
from ..gmrw import walk
from ..gmrw.xfeat_gmrw import XFeatGMRW, build as build_gmrw
from . import metrics
from .run_folder import RunLog, args_dict, clear_logs, val_record
from .supervised import DEFAULT_VAL_DIR, REPO_ROOT, lr_at

DEV_SET = "tapvid_davis32_dev"  # the held-out evaluation split: never a training source
DEFAULT_DATA_ROOT = REPO_ROOT.parent / "shared" / "data"
DEFAULT_REAL_DIRS = ("robot_real", "robot_sim", "everyday_real")
DEFAULT_FRAME_STORE = REPO_ROOT / "runs" / "data" / "gmrw_frames"


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="cpu", help="GMRW preset (gmrw/config.py; xfeat: gmrw/xfeat_gmrw.py)")
    p.add_argument("--steps", type=int, required=True, help="total optimiser steps of the run")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--resume", action="store_true")
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--clip-len", type=int, default=4, help="frames per clip (the walk has 2 x (clip_len - 1) steps)")
    p.add_argument("--size", type=int, default=128,
                   help="square training view side (128: 16x16 cells at stride 8, 16x fewer walk entries than 256)")
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--clip-grad", type=float, default=1.0)
    p.add_argument("--smooth-weight", type=float, default=0.1, help="weight of the edge-aware smoothness loss")
    p.add_argument("--walk-rows", type=int, default=256, help="start cells of the walk per clip (random, valid)")
    p.add_argument("--min-view-scale", type=float, default=0.6, help="smallest crop side of a view (x size)")
    p.add_argument("--flip-prob", type=float, default=0.5,
                   help="chance that a view is mirrored (0 for preset xfeat: its pretrained descriptors are not mirror-invariant)")
    p.add_argument("--real-fraction", type=float, default=0.5, help="share of clips from real videos")
    p.add_argument("--data-root", type=Path, default=DEFAULT_DATA_ROOT)
    p.add_argument("--real-dirs", nargs="*", default=list(DEFAULT_REAL_DIRS))
    p.add_argument("--frame-store", type=Path, default=DEFAULT_FRAME_STORE, help="decoded-frame cache")
    p.add_argument("--no-real-textures", action="store_true", help="synthetic clips: procedural textures only")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--val-dir", type=Path, default=None,
                   help=f"validation clips (default {DEFAULT_VAL_DIR}/<val-frames>f_<val-size>px, made when missing)")
    p.add_argument("--val-frames", type=int, default=12)
    p.add_argument("--val-size", type=int, default=256, help="validation clip side (the engine's model input)")
    p.add_argument("--val-clips", type=int, default=16)
    p.add_argument("--val-points", type=int, default=128)
    p.add_argument("--val-every", type=int, default=250)
    p.add_argument("--sampling", default="feature", choices=("feature", "flow"),
                   help="matcher convention for validation (export the model with the same)")
    p.add_argument("--log-every", type=int, default=10)
    p.add_argument("--ckpt-every", type=int, default=50)
    p.add_argument("--snapshot-every", type=int, default=1000)
    p.add_argument("--max-minutes", type=float, default=0, help="stop (with a checkpoint) after this long; 0 = no limit")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--fixed-batch", action="store_true", help="train on batch 0 only (overfit check)")
    return p.parse_args(argv)


# ------------------------------------------------------------------------------------------------- real frames
def assert_not_dev_set(path) -> None:
    """Refuses any path inside the TAP-Vid-DAVIS dev split (it is the evaluation set)."""
    if DEV_SET in Path(path).resolve().parts or DEV_SET in Path(path).parts:
        raise ValueError(f"{path}: {DEV_SET} is the evaluation split and must never be used for training")


class RealFrameStore:
    """Unlabeled real videos as short clips, decoded once with OpenCV into JPEG-compressed per-video caches.

    Each video becomes `<store>/<dir>__<stem>.npz` (every `frame_step`-th frame, at most `max_frames`, short side
    `short_side`, JPEG quality 90 bytes + offsets). `clip(rng, length, size)` returns a random clip [T,3,size,size]
    RGB in [0, 255]: random temporal stride 1-2 (stored frames), random square crop, resized to size.
    """

    def __init__(self, root: Path, dirs: Sequence[str], store: Path, short_side: int = 256, frame_step: int = 2,
                 max_frames: int = 150) -> None:
        for d in dirs:
            assert_not_dev_set(Path(root) / d)
        self.videos: List[Path] = []
        for d in dirs:
            self.videos += [Path(f) for f in sorted(glob.glob(str(Path(root) / d / "**" / "*.mp4"), recursive=True))]
        for v in self.videos:
            assert_not_dev_set(v)
        self.store = Path(store)
        self.short_side, self.frame_step, self.max_frames = short_side, frame_step, max_frames
        self._cache: Dict[int, tuple] = {}

    def __len__(self) -> int:
        return len(self.videos)

    def _cache_path(self, video: Path) -> Path:
        return self.store / f"{video.parent.name}__{video.stem}_s{self.short_side}_k{self.frame_step}.npz"

    def _load(self, i: int):
        import cv2

        if i in self._cache:
            return self._cache[i]
        video = self.videos[i]
        path = self._cache_path(video)
        if not path.exists():
            cap = cv2.VideoCapture(str(video))
            blobs, k = [], 0
            while len(blobs) < self.max_frames:
                ok, frame = cap.read()
                if not ok:
                    break
                if k % self.frame_step == 0:
                    h, w = frame.shape[:2]
                    s = self.short_side / min(h, w)
                    frame = cv2.resize(frame, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
                    blobs.append(cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].ravel())
                k += 1
            cap.release()
            self.store.mkdir(parents=True, exist_ok=True)
            offsets = np.cumsum([0] + [len(b) for b in blobs]).astype(np.int64)
            tmp = path.with_suffix(".tmp.npz")
            np.savez(tmp, data=np.concatenate(blobs) if blobs else np.zeros(0, np.uint8), offsets=offsets)
            os.replace(tmp, path)
        with np.load(path) as z:
            self._cache[i] = (z["data"], z["offsets"])
        return self._cache[i]

    def clip(self, rng: np.random.Generator, length: int, size: int) -> Optional[torch.Tensor]:
        import cv2

        i = int(rng.integers(len(self.videos)))
        data, offsets = self._load(i)
        n = len(offsets) - 1
        stride = int(rng.integers(1, 3))
        if n < (length - 1) * stride + 1:
            stride = 1
        if n < length:
            return None
        start = int(rng.integers(0, n - (length - 1) * stride))
        frames = [cv2.imdecode(data[offsets[j]:offsets[j + 1]], cv2.IMREAD_COLOR)
                  for j in range(start, start + length * stride, stride)]
        h, w = frames[0].shape[:2]
        side = min(h, w)
        y0, x0 = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
        out = [cv2.resize(f[y0:y0 + side, x0:x0 + side], (size, size), interpolation=cv2.INTER_AREA) for f in frames]
        arr = np.stack(out)[..., ::-1].copy()  # BGR -> RGB
        return torch.from_numpy(arr).permute(0, 3, 1, 2).float()


# ------------------------------------------------------------------------------------------------- batches
class ClipSource:
    """Clip j of step k: real with probability --real-fraction (when videos exist), else synthetic; then two
    views with independent random transforms and brightness/contrast jitter. A function of (seed, k, j) only."""

    def __init__(self, args) -> None:
        if args.seed == VAL_TAG:
            raise ValueError("this seed is reserved for the validation set")
        self.args = args
        syn = SyntheticConfig(frames=args.clip_len, size=(args.size, args.size))
        self.synthetic = SyntheticGenerator(syn, use_real_textures=not args.no_real_textures)
        self.real = None
        if args.real_fraction > 0 and args.real_dirs:
            store = RealFrameStore(args.data_root, args.real_dirs, args.frame_store, short_side=args.size)
            self.real = store if len(store) else None

    def clip(self, step: int, j: int) -> torch.Tensor:
        a = self.args
        rng = np.random.default_rng([a.seed, step, j])
        frames = None
        if self.real is not None and rng.random() < a.real_fraction:
            frames = self.real.clip(rng, a.clip_len, a.size)
        if frames is None:
            video = self.synthetic.generate([a.seed, step * a.batch + j]).as_tapvid()["video"]
            frames = torch.from_numpy(np.ascontiguousarray(video)).permute(0, 3, 1, 2).float()
        return frames

    def batch(self, step: int):
        """-> view_a, view_b [B,T,3,S,S] in [0, 255], targets [B,N] (warped_targets), both views' affines."""
        a = self.args
        views_a, views_b, targets = [], [], []
        stride = get_config(a.preset).feature_stride
        for j in range(a.batch):
            frames = self.clip(step, j)
            rng = np.random.default_rng([a.seed, step, j, 1])
            pair = []
            for _ in range(2):
                m = walk.random_view(rng, a.size, a.min_view_scale, flip_prob=a.flip_prob)
                v = walk.warp_frames(frames, m, (a.size, a.size))
                gain, bias = rng.uniform(0.8, 1.2), rng.uniform(-20, 20)
                pair.append((((v - 128) * gain + 128 + bias).clamp(0, 255), m))
            (va, ma), (vb, mb) = pair
            views_a.append(va)
            views_b.append(vb)
            targets.append(walk.warped_targets(ma, mb, (a.size // stride, a.size // stride), stride))
        return torch.stack(views_a), torch.stack(views_b), torch.stack(targets)


def walk_losses(model: GMRW, view_a: torch.Tensor, view_b: torch.Tensor, targets: torch.Tensor, walk_rows: int,
                smooth_weight: float, generator: Optional[torch.Generator] = None) -> Dict[str, torch.Tensor]:
    """Loss terms of one batch: cycle (CE of the round trip), smooth (edge-aware), loss (weighted sum),
    walk_acc (share of start cells whose most likely round-trip end is their warped target)."""
    trans = walk.palindrome_transitions(model, view_a, view_b)
    t = view_a.shape[1]
    sources = [view_a[:, i] for i in range(t)] + [view_b[:, i] for i in range(t - 2, 0, -1)]
    rows = walk.choose_rows(targets, walk_rows, generator)
    cyc, acc = walk.cycle_terms(trans, targets, rows)
    h = w = int(round(trans[0].shape[-1] ** 0.5))
    smooth = torch.stack([walk.edge_aware_smoothness(walk.transition_flow(a, (h, w)), img / 255.0)
                          for a, img in zip(trans, sources)]).mean()
    return {"loss": cyc + smooth_weight * smooth, "cycle": cyc, "smooth": smooth, "walk_acc": acc}


# ------------------------------------------------------------------------------------------------- validation
@torch.no_grad()
def track_online(model: GMRW, video: torch.Tensor, query_points: np.ndarray, sampling: str = "feature"):
    """Online GMRW chain like the engine's gmrw method: each point starts at its query (raster) on its query
    frame and is matched from each frame to the next from its previous estimate; occluded where fb_error >=
    fb_threshold_px. video [T,3,H,W] RGB [0, 255]. Returns tracks [N,T,2] (x, y raster), occluded [N,T] bool."""
    t_len = video.shape[0]
    qt = np.round(query_points[:, 0]).astype(np.int64)
    q_xy = torch.from_numpy(query_points[:, [2, 1]].astype(np.float32))
    pos = q_xy.clone()
    tracks = torch.zeros(len(qt), t_len, 2)
    occ = torch.zeros(len(qt), t_len, dtype=torch.bool)
    feats = model.encode(video).features
    for t in range(t_len):
        if t > 0:
            res = model.match(model.pair(feats[t - 1:t], feats[t:t + 1]), (pos - 0.5)[None], sampling,
                              image_hw=video.shape[-2:])
            pos = res.forward[0] + 0.5
            occ[:, t] = res.occluded[0]
        at_query = torch.from_numpy(qt == t)
        pos = torch.where(at_query[:, None], q_xy, pos)
        occ[:, t] &= ~at_query
        tracks[:, t] = pos
    return tracks.numpy(), occ.numpy()


@torch.no_grad()
def evaluate(model: GMRW, clips, device, sampling: str = "feature") -> Dict[str, float]:
    """TAP-Vid metrics (query_first) of online GMRW tracking; metrics.py definitions."""
    model.eval()
    rows = []
    for clip in clips:
        video = torch.from_numpy(np.ascontiguousarray(clip["video"])).permute(0, 3, 1, 2).float().to(device)
        tracks, occ = track_online(model, video, clip["query_points"], sampling)
        rows.append(metrics.tapvid_metrics(clip["query_points"], clip["occluded"], clip["target_points"],
                                           occ, tracks, "first"))
    model.train()
    return metrics.average(rows)


# ------------------------------------------------------------------------------------------------- checkpoints
def save_checkpoint(path: Path, model: GMRW, opt, step: int, args) -> None:
    """Atomic write (tmp + rename) of model, optimiser, step, model config and run arguments."""
    tmp = path.with_suffix(".tmp")
    torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "step": step, "family": "gmrw",
                "preset": args.preset, "model_config": dataclasses.asdict(model.config),
                "args": args_dict(args)}, tmp)
    os.replace(tmp, path)


def load_model(path: Path, map_location="cpu") -> GMRW:
    """A GMRW with the weights of a gmrw_train checkpoint (its own config)."""
    ck = torch.load(path, map_location=map_location)
    cfg = GMRWConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in ck["model_config"].items()})
    model = XFeatGMRW(cfg) if ck.get("preset") == "xfeat" else GMRW(cfg)
    model.load_state_dict(ck["model"])
    return model


# ------------------------------------------------------------------------------------------------- training
def train(args) -> Dict[str, float]:
    torch.set_num_threads(args.threads)
    if args.val_dir is not None:
        assert_not_dev_set(args.val_dir)
    device = torch.device(args.device)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(args.seed)
    model = build_gmrw(args.preset).to(device)
    # The frozen XFeat backbone of preset "xfeat" has no trainable parameters.
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=args.lr, weight_decay=args.weight_decay)
    step = 0
    last = out / "last.pt"
    if args.resume and last.exists():
        ck = torch.load(last, map_location=device)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        step = int(ck["step"])
        print(f"resumed from {last} at step {step}", flush=True)
    elif not args.resume:
        clear_logs(out)
    (out / "config.json").write_text(json.dumps({"args": args_dict(args),
                                                 "family": "gmrw", "model_config": dataclasses.asdict(model.config)},
                                                indent=1))
    source = ClipSource(args)
    val_clips = []
    if args.val_clips > 0:
        val_dir = args.val_dir or DEFAULT_VAL_DIR / f"{args.val_frames}f_{args.val_size}px"
        assert_not_dev_set(val_dir)
        paths = make_validation_set(val_dir, args.val_clips,
                                    SyntheticConfig(frames=args.val_frames, size=(args.val_size, args.val_size)),
                                    not args.no_real_textures)
        val_clips = load_clips(paths, args.val_points)

    run = RunLog(args)
    result: Dict[str, float] = {}
    model.train()
    fixed = source.batch(0) if args.fixed_batch else None
    while step < args.steps:
        for g in opt.param_groups:
            g["lr"] = lr_at(step, args)
        view_a, view_b, targets = fixed if fixed is not None else source.batch(step)
        gen = torch.Generator().manual_seed(args.seed * 1_000_003 + (0 if fixed is not None else step))
        losses = walk_losses(model, view_a.to(device), view_b.to(device), targets.to(device), args.walk_rows,
                             args.smooth_weight, gen)
        opt.zero_grad(set_to_none=True)
        losses["loss"].backward()
        gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip_grad)
        opt.step()
        step += 1
        result = {k: float(v) for k, v in losses.items()}
        if run.log_due(step):
            run.log_train(step, {**result, "grad_norm": float(gnorm)}, lr_at(step - 1, args))
        stop = run.out_of_time()
        run.checkpoint(step, stop, lambda path: save_checkpoint(path, model, opt, step, args))
        if val_clips and run.val_due(step, stop):
            run.append_val(val_record(step, evaluate(model, val_clips, device, args.sampling)))
        if stop:
            run.print_stop(step)
            break
    return result


def main(argv=None) -> int:
    train(parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
