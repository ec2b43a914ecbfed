"""ONNX Runtime timing of TAPIR-family presets on this CPU: encoder + step per frame at 1/64/256 points.

  cd training && /usr/bin/python3 -m causaltap_training.train.time_onnx --presets cpu cpu_fast tiny small \
      [--points 1 64 256] [--threads 2] [--repeat 20] [--json out.json]

Exports each preset (random weights; timing does not depend on them) with `export.onnx_export.export_tapir` and
times the graphs with the C# runner (`causaltap onnx-run --repeat`, see `export.runner`). Prints a markdown table
(encoder once per frame; step per point count; total = encoder + step; fps = 1000 / total) of two measures:
  wall: min and median wall ms per run with --threads intra-op threads (what the engine sees on an idle machine:
        the min; on a shared machine the median is inflated by other processes);
  cpu:  CPU ms per run with 1 intra-op thread, from the runner process's rusage (total for repeat+1 runs minus
        1 run, divided by repeat): insensitive to other load, an upper bound of the idle 1-thread wall time.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from ..export import runner
from ..export.onnx_export import export_tapir
from ..tapir import build


def _children_cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def cpu_ms(model: Path, inputs, repeat: int = 40) -> float:
    """CPU ms per run of one graph with 1 intra-op thread (see module docstring)."""
    runner.check_available()
    with tempfile.TemporaryDirectory(prefix="cpu-ms-") as tmp:
        ip = Path(tmp) / "in.npz"
        np.savez(ip, **{k: np.ascontiguousarray(v) for k, v in inputs.items()})

        def once(n: int) -> float:
            c0 = _children_cpu_s()
            subprocess.run(["dotnet", str(runner.CLI_DLL), "onnx-run", str(model), str(ip), str(Path(tmp) / "o.npz"),
                            "--threads", "1", "--repeat", str(n), "--warmup", "1", "--quiet"],
                           capture_output=True, env=runner._env(), check=True)
            return _children_cpu_s() - c0

        base = min(once(1) for _ in range(2))
        full = min(once(repeat + 1) for _ in range(2))
        return max(full - base, 0.0) / repeat * 1000


def time_model(model, points=(1, 64, 256), threads: int = 2, repeat: int = 20, out_dir: Path = None) -> dict:
    """Exports `model` and returns {'encoder_ms': .., 'step_ms': {n: ..}, 'query_ms': {n: ..}} (medians)."""
    model = model.eval()
    cfg = model.config
    h, w = cfg.resolution
    with tempfile.TemporaryDirectory(prefix="time-onnx-") as tmp:
        d = Path(out_dir) if out_dir else Path(tmp)
        export_tapir(model, d)
        gen = torch.Generator().manual_seed(0)
        frame = (torch.rand(1, 3, h, w, generator=gen) * 2 - 1)
        enc_out, t_enc, _ = runner.onnx_run_timed(d / "encoder.onnx", {"frame": frame.numpy()}, threads=threads,
                                                  repeat=repeat)
        res = {"encoder_ms": t_enc.get("median", t_enc.get("median_ms")), "encoder_timing": t_enc,
               "encoder_cpu_ms": cpu_ms(d / "encoder.onnx", {"frame": frame.numpy()}, repeat),
               "step_ms": {}, "query_ms": {}, "step_cpu_ms": {}}
        for n in points:
            pts = (torch.rand(n, 2, generator=gen) * torch.tensor([w, h], dtype=torch.float32)).numpy()
            q, t_q, _ = runner.onnx_run_timed(d / "query.onnx", {"lowres": enc_out["lowres"],
                                              "hires": enc_out["hires"], "points": pts}, threads=threads,
                                              repeat=max(3, repeat // 4))
            state = np.zeros((n, cfg.state_floats_per_point), np.float32)
            _, t_s, _ = runner.onnx_run_timed(d / "step.onnx", {
                "lowres": enc_out["lowres"], "hires": enc_out["hires"], "query_lowres": q["query_lowres"],
                "query_hires": q["query_hires"], "state": state}, threads=threads, repeat=repeat)
            res["step_ms"][n] = t_s.get("median", t_s.get("median_ms"))
            res["step_cpu_ms"][n] = cpu_ms(d / "step.onnx", {
                "lowres": enc_out["lowres"], "hires": enc_out["hires"], "query_lowres": q["query_lowres"],
                "query_hires": q["query_hires"], "state": state}, repeat)
            res["query_ms"][n] = t_q.get("median", t_q.get("median_ms"))
            res.setdefault("step_timing", {})[n] = t_s
    return res


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--presets", nargs="+", default=["cpu", "cpu_fast"])
    p.add_argument("--points", nargs="+", type=int, default=[1, 64, 256])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeat", type=int, default=20)
    p.add_argument("--json", type=Path, default=None, help="also write the results here")
    a = p.parse_args(argv)
    torch.set_num_threads(2)
    rows = {}
    print(f"ONNX Runtime CPU. wall: min / median of {a.repeat} runs, {a.threads} threads; "
          f"cpu: CPU ms per run, 1 thread (ms)")
    pts = a.points
    print("| preset | params | encoder wall | encoder cpu | " + " | ".join(f"step {n} wall | step {n} cpu" for n in pts)
          + " | " + " | ".join(f"total {n} wall min (fps) | total {n} cpu (fps)" for n in pts) + " |")
    print("|---|---:|---:|---:|" + "---:|---:|" * len(pts) * 2)
    for name in a.presets:
        torch.manual_seed(0)
        model = build(name)
        params = sum(q.numel() for q in model.parameters())
        r = time_model(model, pts, a.threads, a.repeat)
        rows[name] = r
        e_min, e_med, e_cpu = r["encoder_timing"]["min_ms"], r["encoder_ms"], r["encoder_cpu_ms"]
        cells = []
        for n in pts:
            cells.append(f"{r['step_timing'][n]['min_ms']:.1f} / {r['step_ms'][n]:.1f} | {r['step_cpu_ms'][n]:.1f}")
        totals = []
        for n in pts:
            w = e_min + r["step_timing"][n]["min_ms"]
            c = e_cpu + r["step_cpu_ms"][n]
            totals.append(f"{w:.1f} ({1000 / w:.0f}) | {c:.1f} ({1000 / c:.0f})")
        print(f"| {name} | {params:,} | {e_min:.1f} / {e_med:.1f} | {e_cpu:.1f} | " + " | ".join(cells) + " | "
              + " | ".join(totals) + " |", flush=True)
    if a.json:
        a.json.write_text(json.dumps(rows, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
