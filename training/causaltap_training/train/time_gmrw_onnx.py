"""ONNX Runtime timing of GMRW presets on this CPU: gmrw_encoder + gmrw_match per frame at K points.

  cd training && /usr/bin/python3 -m causaltap_training.train.time_gmrw_onnx --presets cpu tiny \
      [--points 256] [--samplings feature flow] [--threads 2] [--repeat 20]

Exports each preset (random weights; timing does not depend on them) with `export.onnx_export.export_gmrw` at
256x256 and times both graphs with the C# runner, like `time_onnx` does for TAPIR: wall min / median with
--threads intra-op threads, and CPU ms per run with 1 thread (the runner's rusage; insensitive to other load).
Per frame the engine runs gmrw_encoder once and gmrw_match once for all points.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from ..export import runner
from ..export.onnx_export import export_gmrw
from ..gmrw import build_gmrw
from .time_onnx import cpu_ms


def time_preset(name: str, points: int, sampling: str, threads: int, repeat: int, size: int = 256) -> dict:
    torch.manual_seed(0)
    model = build_gmrw(name).eval()
    gen = torch.Generator().manual_seed(0)
    frame = (torch.rand(1, 3, size, size, generator=gen) * 2 - 1).numpy()
    pts = (torch.rand(points, 2, generator=gen) * size).numpy()
    with tempfile.TemporaryDirectory(prefix="time-gmrw-") as tmp:
        d = Path(tmp)
        export_gmrw(model, d, (size, size), sampling)
        enc, t_enc, _ = runner.onnx_run_timed(d / "gmrw_encoder.onnx", {"frame": frame}, threads=threads, repeat=repeat)
        match_in = {"prev_features": enc["gmrw_features"], "new_features": enc["gmrw_features"], "points": pts}
        _, t_match, _ = runner.onnx_run_timed(d / "gmrw_match.onnx", match_in, threads=threads, repeat=repeat)
        return {"params": sum(p.numel() for p in model.parameters()),
                "encoder_wall": t_enc, "match_wall": t_match,
                "encoder_cpu_ms": cpu_ms(d / "gmrw_encoder.onnx", {"frame": frame}, repeat),
                "match_cpu_ms": cpu_ms(d / "gmrw_match.onnx", match_in, repeat)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--presets", nargs="+", default=["cpu", "tiny"])
    p.add_argument("--points", type=int, default=256)
    p.add_argument("--samplings", nargs="+", default=["feature", "flow"])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeat", type=int, default=20)
    a = p.parse_args(argv)
    torch.set_num_threads(2)
    print(f"ONNX Runtime CPU, 256x256, {a.points} points. wall: min / median of {a.repeat} runs, {a.threads} threads; "
          "cpu: CPU ms per run, 1 thread")
    print("| preset | params | sampling | encoder wall | encoder cpu | match wall | match cpu | total cpu ms |")
    print("|---|---:|---|---:|---:|---:|---:|---:|")
    for name in a.presets:
        for sampling in a.samplings:
            r = time_preset(name, a.points, sampling, a.threads, a.repeat)
            ew, mw = r["encoder_wall"], r["match_wall"]
            print(f"| {name} | {r['params']:,} | {sampling} | {ew['min_ms']:.1f} / {ew['median_ms']:.1f} | "
                  f"{r['encoder_cpu_ms']:.1f} | {mw['min_ms']:.1f} / {mw['median_ms']:.1f} | {r['match_cpu_ms']:.1f} | "
                  f"{r['encoder_cpu_ms'] + r['match_cpu_ms']:.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    sys.exit(main())
