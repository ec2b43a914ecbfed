#!/usr/bin/python3
"""Independent numpy implementation of the TAP-Vid metrics, used by the C# tests as a cross-check.

Written from the definitions in the TAP-Vid paper (Doersch et al. 2022, arXiv 2211.03726, section 3 "Metrics")
and the conventions of the benchmark's evaluation protocol:

* query frame q = round(t), half to even (np.rint);
* 'first' mode evaluates frames t > q, 'strided' mode every frame t != q;
* positions are compared at a fixed resolution (256x256 by default): x scaled by W_res/W, y by H_res/H;
* a prediction is within delta when its squared distance to the ground truth is < delta**2;
* occlusion accuracy = share of evaluated (point, frame) pairs whose occlusion flag is predicted correctly;
* pts_within_delta = share of ground-truth-visible evaluated pairs predicted within delta (occlusion ignored);
* jaccard_delta = TP / (TP + FP + FN), counted on evaluated pairs:
    TP: visible in gt, predicted visible, within delta;
    FN: visible in gt and not a TP;
    FP: predicted visible and (occluded in gt or not within delta);
* the averages are plain means over the 5 thresholds; a dataset score is the mean over videos.

Usage:
  tapvid_metrics_reference.py metrics INPUT.npz OUTPUT.json
      INPUT.npz holds: 'num_videos' (int64), 'query_mode' (str), 'resolution' int64 [2] (H, W; 0,0 = native),
      and per video i: v{i}_query_points [N,3], v{i}_gt_tracks [N,T,2], v{i}_gt_occluded [N,T],
      v{i}_pred_tracks [N,T,2], v{i}_pred_occluded [N,T], v{i}_hw int64 [2] (video H, W).
  tapvid_metrics_reference.py zero_motion DATASET_DIR OUTPUT.json [first|strided]
      reads every *.npz of DATASET_DIR with numpy and scores the zero-motion baseline (query position,
      never occluded) at 256x256.
Output JSON: {"videos": [{name: value}], "mean": {name: value}}; NaN is written as null.
"""

import glob
import json
import os
import sys

import numpy as np

THRESHOLDS = (1, 2, 4, 8, 16)


def _ratio(num, den):
    return float(num) / float(den) if den > 0 else float("nan")


def video_metrics(query_points, gt_tracks, gt_occluded, pred_tracks, pred_occluded, mode, video_hw, resolution):
    gt_occluded = np.asarray(gt_occluded, dtype=bool)
    pred_occluded = np.asarray(pred_occluded, dtype=bool)
    n_points, n_frames = gt_occluded.shape
    frames = np.arange(n_frames)[np.newaxis, :]
    q = np.rint(np.asarray(query_points, dtype=np.float64)[:, 0]).astype(np.int64)[:, np.newaxis]
    if mode == "first":
        evaluated = frames > q
    elif mode == "strided":
        evaluated = frames != q
    else:
        raise ValueError(mode)

    if resolution is None or (resolution[0] == 0 and resolution[1] == 0):
        factor = np.array([1.0, 1.0])
    else:
        factor = np.array([resolution[1] / float(video_hw[1]), resolution[0] / float(video_hw[0])])
    gt_xy = np.asarray(gt_tracks, dtype=np.float64) * factor
    pr_xy = np.asarray(pred_tracks, dtype=np.float64) * factor
    diff = pr_xy - gt_xy
    sq = diff[..., 0] * diff[..., 0] + diff[..., 1] * diff[..., 1]

    gt_vis = ~gt_occluded
    pr_vis = ~pred_occluded
    out = {"occlusion_accuracy": _ratio(np.count_nonzero((gt_occluded == pred_occluded) & evaluated),
                                        np.count_nonzero(evaluated))}
    n_vis = np.count_nonzero(gt_vis & evaluated)
    jacc, within_list = [], []
    for d in THRESHOLDS:
        with np.errstate(invalid="ignore"):
            close = sq < float(d) * float(d)
        tp = gt_vis & pr_vis & close & evaluated
        fn = gt_vis & evaluated & ~tp
        fp = pr_vis & evaluated & (gt_occluded | ~close)
        n_tp, n_fn, n_fp = (np.count_nonzero(a) for a in (tp, fn, fp))
        j = _ratio(n_tp, n_tp + n_fn + n_fp)
        w = _ratio(np.count_nonzero(close & gt_vis & evaluated), n_vis)
        out["jaccard_%d" % d] = j
        out["pts_within_%d" % d] = w
        jacc.append(j)
        within_list.append(w)
    out["average_jaccard"] = sum(jacc) / len(jacc)
    out["average_pts_within_thresh"] = sum(within_list) / len(within_list)
    out["evaluated_pairs"] = int(np.count_nonzero(evaluated))
    out["visible_pairs"] = int(n_vis)
    return out


def mean_over_videos(per_video):
    keys = [k for k in per_video[0] if k not in ("name", "evaluated_pairs", "visible_pairs")]
    return {k: sum(v[k] for v in per_video) / len(per_video) for k in keys}


def _clean(obj):
    if isinstance(obj, float) and obj != obj:
        return None
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_clean(v) for v in obj]
    return obj


def _write(path, per_video):
    with open(path, "w") as f:
        json.dump(_clean({"videos": per_video, "mean": mean_over_videos(per_video)}), f)


def main(argv):
    if len(argv) >= 4 and argv[1] == "metrics":
        data = np.load(argv[2])
        mode = str(data["query_mode"])
        res = [int(v) for v in data["resolution"]]
        per_video = []
        for i in range(int(data["num_videos"])):
            p = "v%d_" % i
            per_video.append(video_metrics(data[p + "query_points"], data[p + "gt_tracks"], data[p + "gt_occluded"],
                                           data[p + "pred_tracks"], data[p + "pred_occluded"], mode,
                                           [int(v) for v in data[p + "hw"]], res))
        _write(argv[3], per_video)
        return 0
    if len(argv) >= 4 and argv[1] == "zero_motion":
        mode = argv[4] if len(argv) > 4 else "first"
        per_video = []
        for path in sorted(glob.glob(os.path.join(argv[2], "*.npz"))):
            d = np.load(path)
            qp = d["query_points"]
            n, t = d["occluded"].shape
            h, w = d["video"].shape[1:3]
            pred = np.broadcast_to(qp[:, np.newaxis, [2, 1]], (n, t, 2))
            m = video_metrics(qp, d["target_points"], d["occluded"], pred, np.zeros((n, t), bool), mode, (h, w),
                              (256, 256))
            m["name"] = os.path.splitext(os.path.basename(path))[0]
            per_video.append(m)
        _write(argv[3], per_video)
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
