#!/usr/bin/env python3
"""CPU timing of the GMRW presets: ms per new frame (encode 1 frame + pair transformer + matcher).

  cd training && python3 scripts/time_gmrw.py [--threads 2] [--points 256] [--size 256] [--reps 5] [preset ...]

Random weights (timing does not depend on the values). Prints a markdown table.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from causaltap_training.gmrw import PRESETS, build_gmrw  # noqa: E402


def _median_ms(fn, reps: int) -> float:
  fn()  # warm-up
  times = []
  for _ in range(reps):
    t0 = time.perf_counter()
    fn()
    times.append((time.perf_counter() - t0) * 1e3)
  return statistics.median(times)


def main() -> int:
  ap = argparse.ArgumentParser()
  ap.add_argument("presets", nargs="*", default=list(PRESETS))
  ap.add_argument("--threads", type=int, default=2)
  ap.add_argument("--points", type=int, default=256)
  ap.add_argument("--size", type=int, default=256)
  ap.add_argument("--reps", type=int, default=5)
  args = ap.parse_args()
  torch.set_num_threads(args.threads)
  torch.manual_seed(0)
  print(f"torch {torch.__version__}, {args.threads} threads, {args.size}x{args.size}, {args.points} points, "
        f"median of {args.reps}")
  print("| preset | params | grid | encode ms | pair ms | match ms (flow) | match ms (feature) | total ms/frame |")
  print("|---|---|---|---|---|---|---|---|")
  for name in args.presets:
    model = build_gmrw(name).eval()
    n_params = sum(p.numel() for p in model.parameters())
    frames = torch.rand(2, 3, args.size, args.size) * 255
    points = torch.rand(1, args.points, 2) * (args.size - 1)
    with torch.no_grad():
      feats = model.encode(frames).features
      prev, new = feats[:1], feats[1:]
      pair = model.pair(prev, new)
      t_enc = _median_ms(lambda: model.encode(frames[1:]), args.reps)
      t_pair = _median_ms(lambda: model.pair(prev, new), args.reps)
      t_flow = _median_ms(lambda: model.match(pair, points, "flow"), args.reps)
      t_feat = _median_ms(lambda: model.match(pair, points, "feature"), args.reps)
    grid = "x".join(str(s) for s in feats.shape[-2:])
    print(f"| {name} | {n_params:,} | {grid} | {t_enc:.1f} | {t_pair:.1f} | {t_flow:.1f} | {t_feat:.1f} | "
          f"{t_enc + t_pair + t_flow:.1f} |")
  return 0


if __name__ == "__main__":
  sys.exit(main())
