#!/usr/bin/env python3
"""CPU milliseconds per frame of the official-size architectures in ONNX Runtime, through our C# binding.

Exports the official BootsTAPIR (encoder/query/step) and the official GMRW (gmrw_encoder/gmrw_match) at 256x256
with random weights (timings do not depend on the values), then times each graph with
`causaltap onnx-run --repeat R --threads T` (median of R runs after one warm-up run, session creation excluded).

  cd training && /usr/bin/python3 scripts/bench_official_onnx.py [--points 1 64] [--repeat 5] [--threads 2]
                                                                 [--families tapir gmrw] [--dir DIR]

Per frame: TAPIR = encoder + step(N points); GMRW = gmrw_encoder + gmrw_match(K points). query runs once per new
point batch, not per frame, and is listed on its own. Prints a markdown table and the machine it ran on.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from causaltap_training.export import export_model, runner  # noqa: E402
from causaltap_training.gmrw import build_gmrw  # noqa: E402
from causaltap_training.tapir import build  # noqa: E402


def time_graph(path: Path, inputs, repeat: int, threads: int) -> float:
    _, timing, _ = runner.onnx_run_timed(path, inputs, threads=threads, repeat=repeat, warmup=1)
    return timing["median_ms"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--points", type=int, nargs="+", default=[1, 64])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--families", nargs="+", default=["tapir", "gmrw"], choices=["tapir", "gmrw"])
    ap.add_argument("--dir", type=Path, default=runner.REPO_ROOT / ".deps" / "bench-official")
    args = ap.parse_args()
    torch.set_num_threads(2)
    runner.check_available()
    rng = np.random.default_rng(0)
    frame = (rng.random((1, 3, 256, 256), dtype=np.float32) * 2 - 1)
    rows = []

    if "tapir" in args.families:
        out = args.dir / "bootstapir"
        torch.manual_seed(0)
        card = export_model(out, "bench-bootstapir", "timing only (random init)", tapir=build("bootstapir").eval(),
                            tapir_preset="bootstapir", provenance={"source": "random-init"})
        enc_ms = time_graph(out / "encoder.onnx", {"frame": frame}, args.repeat, args.threads)
        enc = runner.onnx_run(out / "encoder.onnx", {"frame": frame})
        rows.append(("BootsTAPIR", "encoder.onnx", "-", enc_ms, None))
        s = card["tapir"]["state"]["floats_per_point"]
        for n in args.points:
            pts = (rng.random((n, 2), dtype=np.float32) * 256).astype(np.float32)
            q_in = {"lowres": enc["lowres"], "hires": enc["hires"], "points": pts}
            q_ms = time_graph(out / "query.onnx", q_in, args.repeat, args.threads)
            q = runner.onnx_run(out / "query.onnx", q_in)
            step_in = {"lowres": enc["lowres"], "hires": enc["hires"], "query_lowres": q["query_lowres"],
                       "query_hires": q["query_hires"], "state": np.zeros((n, s), np.float32)}
            step_ms = time_graph(out / "step.onnx", step_in, args.repeat, args.threads)
            rows.append(("BootsTAPIR", "query.onnx (once per new points)", n, q_ms, None))
            rows.append(("BootsTAPIR", "step.onnx", n, step_ms, enc_ms + step_ms))

    if "gmrw" in args.families:
        out = args.dir / "gmrw"
        torch.manual_seed(0)
        export_model(out, "bench-gmrw", "timing only (random init)", gmrw=build_gmrw("official").eval(),
                     gmrw_preset="official", size=(256, 256), provenance={"source": "random-init"})
        enc_ms = time_graph(out / "gmrw_encoder.onnx", {"frame": frame}, args.repeat, args.threads)
        feats = runner.onnx_run(out / "gmrw_encoder.onnx", {"frame": frame})["gmrw_features"]
        rows.append(("GMRW", "gmrw_encoder.onnx", "-", enc_ms, None))
        for k in args.points:
            pts = (rng.random((k, 2), dtype=np.float32) * 256).astype(np.float32)
            m_ms = time_graph(out / "gmrw_match.onnx", {"prev_features": feats, "new_features": feats, "points": pts},
                              args.repeat, args.threads)
            rows.append(("GMRW", "gmrw_match.onnx", k, m_ms, enc_ms + m_ms))

    print(f"\nONNX Runtime CPU, {args.threads} intra-op threads, median of {args.repeat} runs; {runner.cpu_name()}, "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end\n")
    print("| model | graph | points | median ms | ms/frame (encoder + per-frame graph) |")
    print("|---|---|---|---|---|")
    for model, graph, n, ms, per_frame in rows:
        print(f"| {model} | {graph} | {n} | {ms:.1f} | {'' if per_frame is None else f'{per_frame:.0f}'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
