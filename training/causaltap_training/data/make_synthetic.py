"""Writes synthetic TAP-Vid clips (npz, the `causaltap eval` format) and reports the generation speed.

  cd training && /usr/bin/python3 -m causaltap_training.data.make_synthetic --out DIR --clips N --seed S \
      [--frames 24 --size 256 --points 256 --no-real-textures] [--validation]

Clip j is `generate((S, j))` and goes to DIR/clip_{j:05d}.npz. --validation writes the fixed validation set
instead (seed family VAL_TAG, files val_{j:04d}.npz; --seed is ignored), the set `train.supervised` scores on.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .dataset import VAL_TAG, make_validation_set
from .synthetic import SyntheticConfig, SyntheticGenerator, save_npz


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--clips", type=int, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--frames", type=int, default=24)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--points", type=int, default=256)
    p.add_argument("--no-real-textures", action="store_true")
    p.add_argument("--validation", action="store_true")
    a = p.parse_args(argv)
    cfg = SyntheticConfig(frames=a.frames, size=(a.size, a.size), num_points=a.points)
    if a.validation:
        t0 = time.time()
        make_validation_set(a.out, a.clips, cfg, not a.no_real_textures)
        print(f"validation set: {a.clips} clips in {a.out} ({time.time() - t0:.1f} s)")
        return 0
    if a.seed == VAL_TAG:
        p.error("this seed is reserved for the validation set")
    gen = SyntheticGenerator(cfg, use_real_textures=not a.no_real_textures)
    t_pool = time.time()
    n_tex = len(gen.pool)
    t_pool = time.time() - t_pool
    t0 = time.time()
    gen_time = cpu_time = 0.0
    for j in range(a.clips):
        g0, c0 = time.time(), time.process_time()
        clip = gen.generate([a.seed, j])
        gen_time += time.time() - g0
        cpu_time += time.process_time() - c0
        save_npz(a.out / f"clip_{j:05d}.npz", clip)
    total = time.time() - t0
    print(f"{a.clips} clips ({a.frames} frames, {a.size}^2, {a.points} points, {n_tex} real frames for textures, "
          f"loaded in {t_pool:.1f} s): generation {a.clips / gen_time:.2f} clips/s wall "
          f"({a.clips / max(cpu_time, 1e-9):.2f} clips per CPU second), with npz writing "
          f"{a.clips / total:.2f} clips/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
