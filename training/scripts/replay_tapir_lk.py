"""Replays the engine's `tapir-lk` rule offline over saved TAPIR outputs, to try local-tracker settings quickly.

  ./causaltap predict CLIP.npz --out TAPIR_DIR/CLIP.npz --method tapir     # once per clip (TAPIR alone)
  /usr/bin/python3 training/scripts/replay_tapir_lk.py --data ../shared/data/tapvid_davis32_dev --tapir TAPIR_DIR \
      [--scale 2 --window 15 --fb 1.5 --redetect-px 16 --confirm 2 --visibility 0.5 --blur 0 --anchor-back 0]

TAPIR's step never sees the published positions, so its per-frame outputs (`causaltap predict --method tapir`
writes them with occlusion_probability and uncertainty) are the same whatever the local tracker does, and the
rule (`Fusion.FuseLocal`) can be replayed with OpenCV's Lucas-Kanade here. With the engine's settings
(`--scale 2` for 256-px clips, i.e. `PyramidalLucasKanade.MinShortSide` 512) it reproduces `causaltap eval
--method tapir-lk` on the development split; `--scale 1` reproduces the engine before the upscale (47.6 / 62.7 /
84.9). Positions are raster pixels of the clip; --redetect-px is in clip pixels (the engine's 16 model px equal
16 clip px at 256x256). Prints AJ / delta_avg / OA (x100, mean over clips; train.metrics, the TAP-Vid definitions).

Options that are not engine settings, kept because the README reports them as tried:
  --blur S         Gaussian pre-blur (sigma S px) of the grey frames
  --anchor-back K  after the frame-to-frame step, re-track each visible point from K frames back (its position
                   there, LK started at the current estimate, 1 pyramid level) and take it when within 2 px
"""
from __future__ import annotations

import argparse
import glob
import os
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from causaltap_training.train import metrics  # noqa: E402


class LocalTracker:
    """Pyramidal LK with the engine's forward-backward check, on frames upscaled by `scale` (raster px in and out)."""

    def __init__(self, scale: float, window: int, fb: float, levels: int = 3):
        self.scale, self.window, self.fb, self.levels = scale, window, fb, levels
        self.criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 30, 0.01)

    def grey(self, frame: np.ndarray, blur: float) -> np.ndarray:
        g = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        if self.scale != 1:
            g = cv2.resize(g, None, fx=self.scale, fy=self.scale, interpolation=cv2.INTER_CUBIC)
        return cv2.GaussianBlur(g, (0, 0), blur) if blur > 0 else g

    def track(self, g0, g1, points, start=None, levels=None):
        """points [K,2] raster px of the frame -> (new points [K,2], passed [K])."""
        lv = self.levels if levels is None else levels
        s, win = self.scale, (self.window, self.window)
        p0 = (points * s - 0.5).reshape(-1, 1, 2).astype(np.float32)
        if start is None:
            p1, ok1, _ = cv2.calcOpticalFlowPyrLK(g0, g1, p0, None, winSize=win, maxLevel=lv, criteria=self.criteria)
        else:
            init = (start * s - 0.5).reshape(-1, 1, 2).astype(np.float32)
            p1, ok1, _ = cv2.calcOpticalFlowPyrLK(g0, g1, p0, init, winSize=win, maxLevel=lv, criteria=self.criteria,
                                                  flags=cv2.OPTFLOW_USE_INITIAL_FLOW)
        p2, ok2, _ = cv2.calcOpticalFlowPyrLK(g1, g0, p1, None, winSize=win, maxLevel=lv, criteria=self.criteria)
        back = np.linalg.norm(p2 - p0, axis=-1)[:, 0] / s
        h, w = g1.shape
        q = p1[:, 0]
        inside = (q[:, 0] >= 0) & (q[:, 1] >= 0) & (q[:, 0] <= w - 1) & (q[:, 1] <= h - 1)
        passed = (ok1[:, 0] == 1) & (ok2[:, 0] == 1) & (back <= self.fb) & inside
        return (q + 0.5) / s, passed


def replay(video, queries, tapir, a) -> tuple:
    """The tapir-lk rule over one clip: (tracks [N,T,2], visible [N,T])."""
    t_count, n = video.shape[0], queries.shape[0]
    lk = LocalTracker(a.scale, a.window, a.fb)
    grey = [lk.grey(f, a.blur) for f in video]
    tapir_xy = tapir["tracks"]
    tapir_visible = (1 - tapir["occlusion_probability"]) * (1 - tapir["uncertainty"]) > a.visibility
    tracks = np.zeros((n, t_count, 2), np.float32)
    visible = np.zeros((n, t_count), bool)
    current = np.zeros((n, 2), np.float32)
    alive = np.zeros(n, bool)
    far_frames = np.zeros(n, int)
    query_t = np.round(queries[:, 0]).astype(int)
    query_xy = queries[:, [2, 1]].astype(np.float32)
    for t in range(t_count):
        if t > 0 and alive.any():
            rows = np.flatnonzero(alive)
            lk_xy, lk_ok = lk.track(grey[t - 1], grey[t], current[rows])
            for k, i in enumerate(rows):
                tv, (tx, ty) = tapir_visible[i, t], tapir_xy[i, t]
                own = lk_xy[k] if lk_ok[k] else current[i]
                far = tv and abs(own[0] - tx) + abs(own[1] - ty) > a.redetect_px
                far_frames[i] = far_frames[i] + 1 if far else 0
                if far and far_frames[i] < a.confirm:
                    current[i], visible[i, t] = own, lk_ok[k]
                    continue
                if far:
                    far_frames[i] = 0
                if lk_ok[k] and not far:
                    current[i], visible[i, t] = lk_xy[k], True
                elif tv:
                    current[i], visible[i, t] = (tx, ty), True
        k_back = a.anchor_back
        if k_back and t >= k_back:
            rows = np.flatnonzero(alive & visible[:, t] & visible[:, t - k_back] & (query_t <= t - k_back))
            if len(rows):
                xy, ok = lk.track(grey[t - k_back], grey[t], tracks[rows, t - k_back], start=current[rows], levels=1)
                take = ok & (np.abs(xy - current[rows]).sum(-1) < 2.0)
                current[rows[take]] = xy[take]
        new = query_t == t
        current[new], alive[new], visible[new, t] = query_xy[new], True, True
        tracks[:, t] = current
    return tracks, visible


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="folder of TAP-Vid npz clips (query_first)")
    p.add_argument("--tapir", required=True, help="folder of `causaltap predict --method tapir` outputs, same names")
    p.add_argument("--scale", type=float, default=2.0, help="LK works on frames upscaled by this (engine: to a 512 px short side, at most 2x)")
    p.add_argument("--window", type=int, default=15, help="LK window, working px")
    p.add_argument("--fb", type=float, default=1.5, help="forward-backward limit, clip px")
    p.add_argument("--redetect-px", type=float, default=16.0)
    p.add_argument("--confirm", type=int, default=2)
    p.add_argument("--visibility", type=float, default=0.5, help="TAPIR visible when (1-occ)(1-unc) exceeds this")
    p.add_argument("--blur", type=float, default=0.0)
    p.add_argument("--anchor-back", type=int, default=0)
    a = p.parse_args(argv)
    scores = []
    for path in sorted(glob.glob(os.path.join(a.data, "*.npz"))):
        clip = np.load(path)
        tapir = np.load(os.path.join(a.tapir, os.path.basename(path)))
        tracks, visible = replay(clip["video"], clip["query_points"], tapir, a)
        scores.append(metrics.tapvid_metrics(clip["query_points"], clip["occluded"], clip["target_points"],
                                             ~visible, tracks, "first"))
    m = metrics.average(scores)
    print(f"{len(scores)} clips: AJ {100 * m['average_jaccard']:.1f} / delta_avg {100 * m['average_pts_within_thresh']:.1f} "
          f"/ OA {100 * m['occlusion_accuracy']:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
