"""TAP-Vid metrics in numpy, for training-time validation (the C# `causaltap eval` is authoritative).

`tapvid_metrics(...)` follows the TAP-Vid definitions (arXiv 2211.03726): evaluated frames are those after the
query frame (query_mode 'first': strictly after; 'strided': every frame except the query frame); occlusion
accuracy over evaluated frames; position accuracy delta^x = share of visible ground truth within x pixels
(x in 1, 2, 4, 8, 16; thresholds for 256x256 frames); Jaccard^x = TP / (TP + FP + FN) where a predicted-visible
point counts as TP only if the ground truth is visible and within x; AJ = mean Jaccard. Each clip is scored on
its own; `average` takes the mean over clips (like TAP-Vid's per-video averaging).
"""
from __future__ import annotations

from typing import Dict, Iterable, List

import numpy as np

THRESHOLDS = (1, 2, 4, 8, 16)


def tapvid_metrics(query_points: np.ndarray, gt_occluded: np.ndarray, gt_tracks: np.ndarray,
                   pred_occluded: np.ndarray, pred_tracks: np.ndarray, query_mode: str = "first"
                   ) -> Dict[str, float]:
    """Metrics of one clip.

    Args:
      query_points: [N, 3] (t, y, x).
      gt_occluded, pred_occluded: bool [N, T].
      gt_tracks, pred_tracks: [N, T, 2] (x, y) pixels.
      query_mode: 'first' or 'strided'.

    Returns:
      {'occlusion_accuracy', 'pts_within_{x}', 'jaccard_{x}', 'average_pts_within_thresh' (delta_avg),
       'average_jaccard'} as fractions in [0, 1].
    """
    n, t = gt_occluded.shape
    qt = np.round(query_points[:, 0]).astype(np.int64)
    frames = np.arange(t)[None, :]
    if query_mode == "first":
        evaluate = frames > qt[:, None]
    elif query_mode == "strided":
        evaluate = frames != qt[:, None]
    else:
        raise ValueError(f"unknown query_mode {query_mode!r}")
    gt_vis = ~gt_occluded.astype(bool)
    pred_vis = ~pred_occluded.astype(bool)
    out: Dict[str, float] = {}
    out["occlusion_accuracy"] = float(np.sum((gt_vis == pred_vis) & evaluate) / max(np.sum(evaluate), 1))
    dist2 = np.sum(np.square(pred_tracks - gt_tracks), axis=-1)
    within_all, jac_all = [], []
    for thr in THRESHOLDS:
        within = dist2 < thr ** 2
        correct = np.sum(within & gt_vis & evaluate)
        count = np.sum(gt_vis & evaluate)
        frac = float(correct / max(count, 1))
        tp = np.sum(within & gt_vis & pred_vis & evaluate)
        gt_pos = np.sum(gt_vis & evaluate)
        fp = np.sum(((~gt_vis & pred_vis) | (~within & pred_vis)) & evaluate)
        jac = float(tp / max(gt_pos + fp, 1))
        out[f"pts_within_{thr}"] = frac
        out[f"jaccard_{thr}"] = jac
        within_all.append(frac)
        jac_all.append(jac)
    out["average_pts_within_thresh"] = float(np.mean(within_all))
    out["average_jaccard"] = float(np.mean(jac_all))
    return out


def average(per_clip: Iterable[Dict[str, float]]) -> Dict[str, float]:
    """Mean of each metric over clips."""
    rows: List[Dict[str, float]] = list(per_clip)
    if not rows:
        return {}
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
