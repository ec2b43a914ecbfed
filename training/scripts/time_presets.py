#!/usr/bin/env python3
"""CPU time per frame of each TAPIR preset at its model resolution: encoder + one causal step (query features
are computed once, outside the timing). Random weights; timings only.

  /usr/bin/python3 training/scripts/time_presets.py [--presets bootstapir small tiny] [--points 1 256]
                                                    [--threads 2] [--repeats 5]
Prints one markdown row per preset: parameters, then ms/frame per point count as "min / median" of the repeats
(the min is the figure least disturbed by other processes on a shared machine).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Tuple

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from causaltap_training.tapir import PRESETS, build  # noqa: E402


def time_preset(name: str, points: int, repeats: int) -> Tuple[float, float]:
    """(min, median) ms of encode + step for one frame with `points` points (after one warm-up frame)."""
    torch.manual_seed(0)
    model = build(name).eval()
    h, w = model.config.resolution
    frame = torch.rand(1, 3, h, w) * 2 - 1
    xy = torch.rand(points, 2) * torch.tensor([w, h], dtype=torch.float32)
    times = []
    with torch.no_grad():
        query = model.query_features(model.encode(frame), xy)
        state = model.initial_state(points)
        for i in range(repeats + 1):
            t0 = time.perf_counter()
            out = model.step(model.encode(frame), query, state)
            state = out.state
            if i:  # the first frame is a warm-up
                times.append((time.perf_counter() - t0) * 1000)
    return min(times), statistics.median(times)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--presets", nargs="+", default=list(PRESETS))
    p.add_argument("--points", nargs="+", type=int, default=[1, 256])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=5)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    print(f"torch {torch.__version__}, {a.threads} threads, min / median of {a.repeats} frames")
    print("| preset | params | " + " | ".join(f"ms/frame, {n} pts" for n in a.points) + " |")
    print("|---|---:|" + "---:|" * len(a.points))
    for name in a.presets:
        params = sum(q.numel() for q in build(name).parameters())
        ms = [time_preset(name, n, a.repeats) for n in a.points]
        print(f"| {name} | {params:,} | " + " | ".join(f"{lo:.1f} / {med:.1f}" for lo, med in ms) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
