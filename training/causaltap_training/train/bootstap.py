"""BootsTAP self-training (Doersch et al. 2024, arXiv 2402.00847) of a TAPIR-family preset on unlabeled real video.

  cd training && /usr/bin/python3 -m causaltap_training.train.bootstap --init ../runs/cpu_sup2/last.pt \
      --out ../runs/cpu_boot1 --steps 2000 [--resume] [--max-minutes 60] [--frames 12 --points 48 --batch 2 \
      --lr 2e-4 --ema 0.99 --synthetic-weight 1.0 --threads 2]

Student-teacher training in causal mode (`Tapir.forward(causal=True)`, as the model runs online):

* teacher = exponential moving average of the student (`--ema`), no gradient. It tracks `--points` queries per clip
  (random positions; half on frame 0, the rest on a random frame of the first half) on the original clip.
* student view = the same clip under a smoothly time-varying zoom/crop (an affine per frame, interpolated linearly
  between two random crop boxes inside the frame) plus colour jitter, blur, noise and JPEG re-compression. The
  teacher's tracks are mapped into the student view with the same affines; frames where the mapped point is outside
  the view are not scored.
* student query: with probability `--resample-prob` a point of the teacher's track on a later frame where the teacher
  says the point is visible (a query is a point on a surface, not a frame: the answer must not depend on which one),
  else the teacher's own query; mapped into the student view.
* pseudo-label mask (cycle consistency): the teacher re-tracks every track from its point at that resampled frame
  backwards in time (the causal model tracks backwards by running on the time-reversed clip; the features are
  encoded once) and the track is kept only where it returns within `--cycle-px` pixels of the original query.
  Tracks with no visible frame after the query cannot be checked and are dropped. Frames before the student's query
  are not scored (`losses.loss_mask`: the causal model cannot know them).
* loss: the TAPIR losses (`losses.tapir_loss`) of the student against the teacher's mapped positions and binarised
  occlusion (visible = (1-sigmoid(occ))(1-sigmoid(expd)) > 0.5), masked as above.
* co-training: every step also takes a synthetic supervised batch (exactly as `supervised.py`, seed family
  `--synthetic-seed`). Both gradients are taken at the same weights and applied by two AdamW optimisers with separate
  state (the paper keeps separate optimiser state per loss): Adam normalises each loss's gradient by its own
  running scale, so `--synthetic-weight` scales the synthetic optimiser's learning rate (scaling an Adam loss would
  do nearly nothing). Weight decay is applied once, by the real-video optimiser. 0 switches co-training off.
* after each step the teacher moves towards the student: teacher = ema * teacher + (1 - ema) * student.

Run folder as `supervised.py`: `config.json` (`kind: bootstap`, args, `init_from` checkpoint path (relative to
training/), its step and sha256, the real sources), `train.jsonl` (real and synthetic loss terms, `kept_frac` = share
of teacher tracks passing the cycle check, `scored_frac` = share of (track, frame) labels scored, lr, wall seconds per
step and per part, CPU seconds per step of the training process),
`val.jsonl` (TAP-Vid metrics of student and teacher on the fixed synthetic validation set), `last.pt` (student
`model`, `teacher`, both optimisers, step, model config, args, init_from), `step_NNNNNNN.pt` snapshots. The data of
step i is a function of (seed, i) only, so `--resume` reproduces an uninterrupted run. `supervised.load_model(path)`
loads the student; `load_teacher(path)` the teacher.
"""
from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import os
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional

import cv2
import numpy as np
import torch

from ..data.dataset import SyntheticClips, load_clips, make_validation_set
from ..data.real_clips import RealClipCache, RealClips, assert_not_dev_set, default_cache_dir
from ..data.synthetic import SyntheticConfig, default_data_root
from ..export.onnx_export import sha256_file
from ..tapir import Tapir, visible_prob
from ..tapir.model import FeatureGrids, Trajectories
from .augment import augment_clip
from .losses import LossConfig, tapir_loss
from .run_folder import VAL_KEYS, RunLog, args_dict, clear_logs, val_record
from .supervised import DEFAULT_VAL_DIR, evaluate, load_model, lr_at

TRAINING_DIR = Path(__file__).resolve().parents[2]
VIEW_TAG = 0xB0071     # seed words that keep the per-clip view, the per-step resampling and the synthetic clips apart
RESAMPLE_TAG = 0xB0072


# ----------------------------------------------------------------------------------------------- student view
def view_affines(rng: np.random.Generator, num_frames: int, size: int, min_scale: float = 0.5) -> np.ndarray:
    """Per-frame affines [T, 2, 3] mapping original raster (x, y) to the student view: x_s = A[:, :2] @ x + A[:, 2].

    Each frame shows a square crop box (side w, top-left corner (x0, y0), inside the frame) scaled to size x size.
    The box parameters move linearly from a random start box to a random end box (sides in [min_scale, 1] x size),
    so every intermediate box is inside the frame too (the set of boxes inside is convex) and the motion is smooth.
    """
    boxes = []
    for _ in range(2):
        w = size * rng.uniform(min_scale, 1.0)
        boxes.append((w, rng.uniform(0, size - w), rng.uniform(0, size - w)))
    (w0, x0, y0), (w1, x1, y1) = boxes
    out = np.zeros((num_frames, 2, 3))
    for t in range(num_frames):
        a = t / max(1, num_frames - 1)
        w, bx, by = (1 - a) * w0 + a * w1, (1 - a) * x0 + a * x1, (1 - a) * y0 + a * y1
        s = size / w
        out[t] = [[s, 0, -bx * s], [0, s, -by * s]]
    return out


def apply_affine(affine: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """affine [..., 2, 3] applied to points [..., 2] (raster pixels)."""
    return np.einsum("...ij,...j->...i", affine[..., :2], xy) + affine[..., 2]


def invert_affine(affine: np.ndarray) -> np.ndarray:
    lin = np.linalg.inv(affine[..., :2])
    return np.concatenate([lin, -np.einsum("...ij,...j->...i", lin, affine[..., 2])[..., None]], -1)


def _to_cv(affine: np.ndarray) -> np.ndarray:
    """Raster-convention affine -> OpenCV's (integer coordinates at pixel centres): shift by half a pixel both sides."""
    m = affine.astype(np.float64).copy()
    m[:, 2] = affine[:, 2] + affine[:, :2] @ np.array([0.5, 0.5]) - 0.5
    return m


def render_view(video: np.ndarray, affines: np.ndarray, size: int) -> np.ndarray:
    """uint8 [T, H, W, 3] -> the student view [T, size, size, 3] (bilinear)."""
    return np.stack([cv2.warpAffine(np.ascontiguousarray(f), _to_cv(a), (size, size), flags=cv2.INTER_LINEAR,
                                    borderMode=cv2.BORDER_REFLECT_101) for f, a in zip(video, affines)])


def degrade(video: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Colour jitter, then (each with a probability) Gaussian blur, Gaussian noise and JPEG at a random quality."""
    video = augment_clip({"video": video, "target_points": np.zeros((0, video.shape[0], 2), np.float32),
                          "query_points": np.zeros((0, 3), np.float32)}, rng, flip_prob=0.0)["video"]
    sigma = rng.uniform(0.3, 1.5) if rng.random() < 0.3 else 0.0
    noise = rng.uniform(1.0, 6.0) if rng.random() < 0.3 else 0.0
    quality = int(rng.integers(15, 90)) if rng.random() < 0.8 else 0
    out = []
    for f in video:
        if sigma:
            f = cv2.GaussianBlur(f, (0, 0), sigma)
        if noise:
            f = np.clip(f + rng.normal(0, noise, f.shape), 0, 255).astype(np.uint8)
        if quality:
            ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(f[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, quality])
            f = cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1]
        out.append(f)
    return np.ascontiguousarray(np.stack(out))


def sample_queries(rng: np.random.Generator, num_points: int, num_frames: int, size: int) -> np.ndarray:
    """Teacher queries [N, 3] (t, y, x): half on frame 0, the rest on a random frame of the first half."""
    t = np.where(rng.random(num_points) < 0.5, 0, rng.integers(0, max(1, num_frames // 2), num_points))
    yx = rng.uniform(2, size - 2, (num_points, 2))
    return np.concatenate([t[:, None], yx], 1).astype(np.float32)


def _video_tensor(video: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(video)).permute(0, 3, 1, 2).float() / 127.5 - 1


class BootstapItems(torch.utils.data.Dataset):
    """Item j: real window j (teacher clip, student view, affines, teacher queries) and synthetic clip j (co-training).

    Everything is a function of (seed, j). Keys: video_teacher / video_student float [T, 3, S, S] in [-1, 1],
    affine float32 [T, 2, 3], query_points [N, 3], sim (1. for simulation footage), and syn_* = a SyntheticClips item.
    """

    def __init__(self, real: RealClips, synthetic: Optional[SyntheticClips], points: int, seed: int,
                 view_min_scale: float = 0.5) -> None:
        self.real = real
        self.synthetic = synthetic
        self.points = points
        self.seed = seed
        self.view_min_scale = view_min_scale

    def __len__(self) -> int:
        return 10 ** 9

    def __getitem__(self, j: int) -> Dict[str, torch.Tensor]:
        clip = self.real.window(j)
        video = clip["video"]
        t, size = video.shape[0], video.shape[1]
        rng = np.random.default_rng([self.seed, int(j), VIEW_TAG])
        affines = view_affines(rng, t, size, self.view_min_scale)
        student = degrade(render_view(video, affines, size), rng)
        item = {"video_teacher": _video_tensor(video), "video_student": _video_tensor(student),
                "affine": torch.from_numpy(affines.astype(np.float32)),
                "query_points": torch.from_numpy(sample_queries(rng, self.points, t, size)),
                "sim": torch.tensor(float(clip["domain"] == "sim"))}
        if self.synthetic is not None:
            item.update({f"syn_{k}": v for k, v in self.synthetic[j].items()})
        return item


def collate(items: List[Dict[str, torch.Tensor]]) -> Dict[str, torch.Tensor]:
    return {k: torch.stack([it[k] for it in items]) for k in items[0]}


# ----------------------------------------------------------------------------------------------- pseudo-labels
def track_grids(model: Tapir, grids: FeatureGrids, query_points: torch.Tensor, num_frames: int) -> Trajectories:
    """`Tapir.forward(causal=True, snap_queries=True)` on already encoded frames."""
    frame_index = torch.round(query_points[..., 0]).long()
    points = torch.flip(query_points[..., 1:3], dims=(-1,))
    query = model.clip_query_features(grids, points, frame_index, num_frames)
    traj, _ = model.estimate_trajectories(grids, query, num_frames, causal=True, query_points=query_points)
    return traj


def reverse_time(grids: FeatureGrids, batch: int, num_frames: int) -> FeatureGrids:
    def flip(g):
        return g.reshape(batch, num_frames, *g.shape[1:]).flip(1).reshape(g.shape)
    return FeatureGrids(flip(grids.lowres), flip(grids.hires))


def resample_frames(visible: torch.Tensor, query_frame: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """For every track a random frame after its query frame where `visible` [B, N, T] is set; -1 where there is none."""
    vis = visible.cpu().numpy().astype(bool)
    qf = query_frame.cpu().numpy()
    t = vis.shape[-1]
    allowed = vis & (np.arange(t) > qf[..., None])
    # a uniform choice among the allowed frames: the largest random key wins
    keys = np.where(allowed, rng.random(allowed.shape), -1.0)
    out = np.where(allowed.any(-1), keys.argmax(-1), -1)
    return torch.from_numpy(out).to(query_frame.device)


def cycle_queries(tracks: torch.Tensor, frame: torch.Tensor, num_frames: int) -> torch.Tensor:
    """Queries [B, N, 3] (t, y, x) on the time-reversed clip at each track's point on `frame` (-1: frame 0 dummy)."""
    f = frame.clamp(min=0)
    xy = torch.gather(tracks, 2, f[..., None, None].expand(*f.shape, 1, 2))[:, :, 0]
    return torch.stack([(num_frames - 1 - f).to(xy.dtype), xy[..., 1], xy[..., 0]], -1)


def cycle_mask(back_tracks: torch.Tensor, query_points: torch.Tensor, frame: torch.Tensor, threshold_px: float
               ) -> tuple:
    """Keep mask [B, N] and error [B, N] px of the backward re-track (tracks [B, N, T, 2] on the reversed clip).

    The backward track is read at the reversed index of each original query frame and compared with the query's
    (x, y). Tracks without a resampled frame (`frame` < 0) are dropped.
    """
    t = back_tracks.shape[2]
    rev = (t - 1 - torch.round(query_points[..., 0]).long()).clamp(0, t - 1)
    back = torch.gather(back_tracks, 2, rev[..., None, None].expand(*rev.shape, 1, 2))[:, :, 0]
    err = torch.linalg.norm(back - torch.flip(query_points[..., 1:3], dims=(-1,)), dim=-1)
    return (err <= threshold_px) & (frame >= 0), err


@torch.no_grad()
def pseudo_labels(teacher: Tapir, video: torch.Tensor, query_points: torch.Tensor, rng: np.random.Generator,
                  cycle_px: float = 4.0) -> Dict[str, torch.Tensor]:
    """The teacher's tracks on the original clip and their cycle check.

    Returns tracks [B, N, T, 2], occluded [B, N, T] (binarised), resample_frame [B, N] (-1: none), keep [B, N],
    cycle_err [B, N].
    """
    b, t = video.shape[:2]
    grids = teacher.encode(video.reshape(b * t, *video.shape[2:]))
    fwd = track_grids(teacher, grids, query_points, t)
    tracks = fwd.tracks[-1]
    visible = visible_prob(fwd.occlusion[-1], fwd.expected_dist[-1]) > 0.5
    frame = resample_frames(visible, torch.round(query_points[..., 0]).long(), rng)
    back = track_grids(teacher, reverse_time(grids, b, t), cycle_queries(tracks, frame, t), t)
    keep, err = cycle_mask(back.tracks[-1], query_points, frame, cycle_px)
    return {"tracks": tracks, "occluded": ~visible, "resample_frame": frame, "keep": keep, "cycle_err": err}


def student_targets(labels: Dict[str, torch.Tensor], query_points: torch.Tensor, affine: torch.Tensor,
                    rng: np.random.Generator, resample_prob: float, size: int) -> Dict[str, torch.Tensor]:
    """Student queries, targets and the frame mask in the student view.

    Returns query_points [B, N, 3], target_points [B, N, T, 2], occluded [B, N, T], frame_mask [B, N, T] float,
    resampled [B, N] bool.
    """
    tracks, frame = labels["tracks"], labels["resample_frame"]
    b, n, t = tracks.shape[:3]
    resampled = torch.from_numpy(rng.random((b, n)) < resample_prob).to(frame.device) & (frame >= 0)
    q_frame = torch.where(resampled, frame, torch.round(query_points[..., 0]).long())
    own_xy = torch.flip(query_points[..., 1:3], dims=(-1,))
    track_xy = torch.gather(tracks, 2, frame.clamp(min=0)[..., None, None].expand(b, n, 1, 2))[:, :, 0]
    q_xy = torch.where(resampled[..., None], track_xy, own_xy)
    # into the student view: the affine of the query's frame for the query, each frame's own for the track
    q_aff = torch.gather(affine, 1, q_frame[..., None, None].expand(b, n, 2, 3))
    q_xy = torch.einsum("bnij,bnj->bni", q_aff[..., :2], q_xy) + q_aff[..., 2]
    target = torch.einsum("btij,bntj->bnti", affine[..., :2], tracks) + affine[..., 2].unsqueeze(1)
    inside = ((target >= 0) & (target < size)).all(-1)
    q_inside = ((q_xy >= 0) & (q_xy < size)).all(-1)
    mask = inside & (labels["keep"] & q_inside)[..., None]
    qp = torch.cat([q_frame[..., None].to(q_xy.dtype), torch.flip(q_xy, dims=(-1,))], -1)
    return {"query_points": qp, "target_points": target, "occluded": labels["occluded"],
            "frame_mask": mask.to(target.dtype), "resampled": resampled}


# ----------------------------------------------------------------------------------------------- training
def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--init", type=Path, default=None, help="checkpoint to start from: a supervised run's last.pt, or a bootstap run's (its "
                   "teacher then starts as this run's teacher)")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--steps", type=int, required=True, help="total steps of the run (the lr schedule's length)")
    p.add_argument("--resume", action="store_true")
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--frames", type=int, default=12)
    p.add_argument("--points", type=int, default=48, help="teacher queries per real clip (and tracks per synthetic)")
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--warmup", type=int, default=50)
    p.add_argument("--clip-grad", type=float, default=1.0)
    p.add_argument("--ema", type=float, default=0.99, help="teacher decay per step")
    p.add_argument("--synthetic-weight", type=float, default=1.0,
                   help="synthetic optimiser lr / real-video lr (0 = no synthetic co-training)")
    p.add_argument("--resample-prob", type=float, default=0.5)
    p.add_argument("--cycle-px", type=float, default=4.0)
    p.add_argument("--view-min-scale", type=float, default=0.5, help="smallest crop side / frame side")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--synthetic-seed", type=int, default=1, help="seed family of the co-training synthetic clips")
    p.add_argument("--data-root", type=Path, default=None, help="real video (default ../shared/data)")
    p.add_argument("--cache-dir", type=Path, default=None, help="decoded frames (default runs/data/real_cache/<size>px)")
    p.add_argument("--no-sim", action="store_true", help="leave out robot_sim/ (simulation footage)")
    p.add_argument("--no-real-textures", action="store_true", help="synthetic clips: procedural textures only")
    p.add_argument("--no-augment", action="store_true", help="synthetic clips: no flips / jitter")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--val-dir", type=Path, default=None)
    p.add_argument("--val-clips", type=int, default=12)
    p.add_argument("--val-points", type=int, default=64)
    p.add_argument("--val-every", type=int, default=250)
    p.add_argument("--no-val-teacher", action="store_true", help="validate the student only")
    p.add_argument("--log-every", type=int, default=10)
    p.add_argument("--ckpt-every", type=int, default=25)
    p.add_argument("--snapshot-every", type=int, default=1000)
    p.add_argument("--max-minutes", type=float, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    return p.parse_args(argv)


def init_record(path: Path) -> dict:
    """init_from (path relative to training/, as the CLI is run from there), the checkpoint's step and sha256."""
    path = Path(path)
    step = torch.load(path, map_location="cpu").get("step")
    return {"init_from": os.path.relpath(path.resolve(), TRAINING_DIR), "init_from_step": step,
            "init_from_sha256": sha256_file(path)}


def load_teacher(path: Path, map_location="cpu") -> Tapir:
    """The EMA teacher of a bootstap checkpoint (`supervised.load_model` gives the student)."""
    ck = torch.load(path, map_location=map_location)
    model = load_model(path, map_location)
    model.load_state_dict(ck["teacher"])
    return model


def save_checkpoint(path: Path, student: Tapir, teacher: Tapir, opts, step: int, args, init: dict) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save({"model": student.state_dict(), "teacher": teacher.state_dict(), "optimizer": opts[0].state_dict(),
                "optimizer_synthetic": opts[1].state_dict(), "step": step,
                "model_config": dataclasses.asdict(student.config), "args": args_dict(args), **init}, tmp)
    os.replace(tmp, path)


@torch.no_grad()
def ema_update(teacher: Tapir, student: Tapir, decay: float) -> None:
    for pt, ps in zip(teacher.parameters(), student.parameters()):
        pt.mul_(decay).add_(ps.detach(), alpha=1 - decay)
    for bt, bs in zip(teacher.buffers(), student.buffers()):
        bt.copy_(bs)


def train_step(student: Tapir, teacher: Tapir, opts, batch: Dict[str, torch.Tensor], step: int, args
               ) -> Dict[str, float]:
    """One BootsTAP step (pseudo-labels, real + synthetic updates, EMA); returns the log record's numbers."""
    opt_real, opt_syn = opts
    for g in opt_real.param_groups:
        g["lr"] = lr_at(step, args)
    for g in opt_syn.param_groups:
        g["lr"] = lr_at(step, args) * args.synthetic_weight
    cfg, loss_cfg = student.config, LossConfig()
    params = [p for p in student.parameters() if p.requires_grad]
    rng = np.random.default_rng([args.seed, step, RESAMPLE_TAG])
    t0 = time.time()
    labels = pseudo_labels(teacher, batch["video_teacher"], batch["query_points"], rng, args.cycle_px)
    tgt = student_targets(labels, batch["query_points"], batch["affine"], rng, args.resample_prob, args.size)

    t1 = time.time()
    traj = student(batch["video_student"], tgt["query_points"], causal=True, snap_queries=True)
    real = tapir_loss(traj, tgt["target_points"], tgt["occluded"], tgt["query_points"], cfg, loss_cfg,
                      frame_mask=tgt["frame_mask"])
    for o in opts:
        o.zero_grad(set_to_none=True)
    real["loss"].backward()
    gnorm_real = torch.nn.utils.clip_grad_norm_(params, args.clip_grad)
    rec = {f"real_{k}": float(v) for k, v in real.items()}
    t2 = time.time()
    if args.synthetic_weight > 0:
        real_grads = [p.grad for p in params]
        for p in params:
            p.grad = None
        traj_s = student(batch["syn_video"], batch["syn_query_points"], causal=True, snap_queries=True)
        syn = tapir_loss(traj_s, batch["syn_target_points"], batch["syn_occluded"], batch["syn_query_points"], cfg,
                         loss_cfg)
        syn["loss"].backward()
        rec["syn_grad_norm"] = float(torch.nn.utils.clip_grad_norm_(params, args.clip_grad))
        rec.update({f"syn_{k}": float(v) for k, v in syn.items()})
        opt_syn.step()  # its gradient was taken before either update: both losses see the same weights
        for p, g in zip(params, real_grads):
            p.grad = g
    frames = torch.arange(traj.tracks.shape[3], device=traj.tracks.device).view(1, 1, -1)
    scored = tgt["frame_mask"] * (frames >= torch.round(tgt["query_points"][..., 0:1]))
    if float(scored.sum()) > 0:  # no surviving pseudo-label: no real update (Adam momentum alone would drift)
        opt_real.step()
    ema_update(teacher, student, args.ema)
    t3 = time.time()
    rec.update({"sec_teacher": t1 - t0, "sec_student_real": t2 - t1, "sec_synthetic_and_update": t3 - t2})
    kept = labels["keep"].float()
    rec.update({"real_grad_norm": float(gnorm_real), "kept_frac": float(kept.mean()),
                "scored_frac": float(scored.mean()), "resampled_frac": float(tgt["resampled"].float().mean()),
                "teacher_visible_frac": float((~labels["occluded"]).float().mean()),
                "cycle_err_median": float(labels["cycle_err"][labels["resample_frame"] >= 0].median())
                if bool((labels["resample_frame"] >= 0).any()) else float("nan"),
                "sim_frac": float(batch["sim"].mean())})
    return rec


def train(args) -> Dict[str, float]:
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    data_root = args.data_root or default_data_root()
    if data_root is None:
        raise SystemExit("no real video: pass --data-root (../shared/data)")
    assert_not_dev_set(data_root)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    last = out / "last.pt"
    resuming = args.resume and last.exists()
    source = last if resuming else args.init
    if source is None:
        raise SystemExit("--init CHECKPOINT is required (or --resume with an existing last.pt)")
    student = load_model(Path(source), device)
    if tuple(student.config.resolution) != (args.size, args.size):
        student.config = dataclasses.replace(student.config, resolution=(args.size, args.size))
    student.to(device).train()
    teacher = copy.deepcopy(student).eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    opts = (torch.optim.AdamW(student.parameters(), lr=args.lr, weight_decay=args.weight_decay),
            torch.optim.AdamW(student.parameters(), lr=args.lr * args.synthetic_weight, weight_decay=0.0))
    step = 0
    if resuming:
        ck = torch.load(last, map_location=device)
        teacher.load_state_dict(ck["teacher"])
        opts[0].load_state_dict(ck["optimizer"])
        opts[1].load_state_dict(ck["optimizer_synthetic"])
        step = int(ck["step"])
        init = {k: ck[k] for k in ("init_from", "init_from_step", "init_from_sha256", "init_teacher") if k in ck}
        print(f"resumed from {last} at step {step}", flush=True)
    else:
        init = init_record(Path(args.init))
        start = torch.load(args.init, map_location=device)
        if "teacher" in start:  # continuing a bootstap run: keep its EMA teacher rather than restart it from the student
            teacher.load_state_dict(start["teacher"])
        init["init_teacher"] = "teacher" in start
        clear_logs(out)

    cache = RealClipCache.build(data_root, args.cache_dir or default_cache_dir(args.size), args.size,
                                include_sim=not args.no_sim, verbose=True)
    real = RealClips(cache, args.frames, args.seed)
    synthetic = None
    if args.synthetic_weight > 0:
        syn_cfg = SyntheticConfig(frames=args.frames, size=(args.size, args.size), num_points=args.points)
        synthetic = SyntheticClips(args.synthetic_seed, 10 ** 9, syn_cfg, augment=not args.no_augment,
                                   use_real_textures=not args.no_real_textures)
    (out / "config.json").write_text(json.dumps({
        "kind": "bootstap", "args": args_dict(args), **init, "model_config": dataclasses.asdict(student.config),
        "data": {"real": cache.describe(), "data_root": str(data_root),
                 "synthetic": None if synthetic is None else {"seed": args.synthetic_seed,
                                                               "real_textures": not args.no_real_textures}}},
        indent=1))

    val_clips = []
    if args.val_clips > 0:
        val_syn = SyntheticConfig(frames=args.frames, size=(args.size, args.size))
        val_dir = args.val_dir or DEFAULT_VAL_DIR / f"{args.frames}f_{args.size}px"
        val_clips = load_clips(make_validation_set(val_dir, args.val_clips, val_syn, not args.no_real_textures),
                               args.val_points)

    items = BootstapItems(real, synthetic, args.points, args.seed, args.view_min_scale)
    kw = {"num_workers": args.workers, "prefetch_factor": 2} if args.workers else {}
    loader = torch.utils.data.DataLoader(items, batch_size=args.batch, sampler=range(step * args.batch, 10 ** 9),
                                         collate_fn=collate, **kw)
    run = RunLog(args, cpu_time=True)
    result: Dict[str, float] = {}
    for batch in loader:
        if step >= args.steps:
            break
        batch = {k: v.to(device) for k, v in batch.items()}
        result = train_step(student, teacher, opts, batch, step, args)
        step += 1
        if run.log_due(step):
            run.log_train(step, result, lr_at(step - 1, args))
        stop = run.out_of_time()
        run.checkpoint(step, stop, lambda path: save_checkpoint(path, student, teacher, opts, step, args, init))
        if val_clips and run.val_due(step, stop):
            rec = val_record(step, evaluate(student, val_clips, device))
            if not args.no_val_teacher:
                mt = evaluate(teacher, val_clips, device)
                teacher.eval()  # evaluate() leaves the model in train mode
                rec["teacher"] = {k: mt[k] for k in VAL_KEYS}
            run.append_val(rec)
        if stop:
            run.print_stop(step)
            break
    return result


def main(argv=None) -> int:
    train(parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
