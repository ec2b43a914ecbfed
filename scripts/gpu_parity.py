#!/usr/bin/env python3
"""CUDA (or TensorRT) vs CPU parity of a model directory's TAPIR graphs through `causaltap onnx-run`.

Runs FRAMES synthetic frames (smooth random images in [-1, 1], seeded) through encoder -> query (frame 0) -> step
(each provider carrying its own causal state, as a stream does) on both providers and prints the max abs
difference of every output, then checks it against the tolerances below. Needs numpy only (no torch, no ORT
Python package): used by scripts/gpu-check.sh on a GPU machine.

  gpu_parity.py CLI_DLL MODEL_DIR [--provider cuda] [--frames 3] [--points 64]
Exit code 0 when every difference is within tolerance, 1 otherwise, 2 when the GPU provider did not load.
"""
import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

# fp32 on both providers; CUDA reorders sums (cuDNN conv algorithms), TF32 is off in ORT's CUDA provider by default.
TOLERANCE = {
    "lowres": 1e-3, "hires": 1e-3,                      # L2-normalised features, |v| <= 1
    "query_lowres": 1e-3, "query_hires": 1e-3,
    "position": 5e-2,                                    # model pixels (256x256 input)
    "occlusion_logit": 5e-2, "expected_dist_logit": 5e-2,
    "new_state": 5e-2,
}


def run(cli, graph, inputs, provider, tmp):
    tmp = Path(tmp)
    np.savez(tmp / "in.npz", **inputs)
    out = tmp / f"out-{provider}.npz"
    proc = subprocess.run(["dotnet", str(cli), "onnx-run", str(graph), str(tmp / "in.npz"), str(out),
                           "--provider", provider, "--quiet"], capture_output=True, text=True)
    if proc.returncode != 0:
        print(proc.stdout + proc.stderr, file=sys.stderr)
        if "cannot be used" in proc.stderr:
            sys.exit(2)
        sys.exit(1)
    with np.load(out) as z:
        return {k: z[k] for k in z.files}


def frames(n, h, w, seed):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        coarse = rng.uniform(-1, 1, (3, h // 16, w // 16)).astype(np.float32)
        img = np.repeat(np.repeat(coarse, 16, axis=1), 16, axis=2)
        img += rng.normal(0, 0.05, img.shape).astype(np.float32)
        out.append(np.clip(img, -1, 1)[None].astype(np.float32))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cli")
    ap.add_argument("model")
    ap.add_argument("--provider", default="cuda")
    ap.add_argument("--frames", type=int, default=3)
    ap.add_argument("--points", type=int, default=64)
    a = ap.parse_args()
    model = Path(a.model)
    card = json.loads((model / "model.json").read_text())
    h, w = card["input"]["height"], card["input"]["width"]
    s = card["tapir"]["state"]["floats_per_point"]
    rng = np.random.default_rng(1)
    points = (rng.uniform(0, 1, (a.points, 2)) * [w, h]).astype(np.float32)
    worst = {}
    state = {p: np.zeros((a.points, s), np.float32) for p in ("cpu", a.provider)}
    query = {}
    with tempfile.TemporaryDirectory(prefix="gpu-parity-") as tmp:
        for f, frame in enumerate(frames(a.frames, h, w, seed=2)):
            res = {}
            for p in ("cpu", a.provider):
                enc = run(a.cli, model / "encoder.onnx", {"frame": frame}, p, tmp)
                if f == 0:
                    query[p] = run(a.cli, model / "query.onnx", {"lowres": enc["lowres"], "hires": enc["hires"], "points": points}, p, tmp)
                step = run(a.cli, model / "step.onnx", {"lowres": enc["lowres"], "hires": enc["hires"],
                                                          "query_lowres": query[p]["query_lowres"],
                                                          "query_hires": query[p]["query_hires"], "state": state[p]}, p, tmp)
                state[p] = step["new_state"]
                res[p] = {**enc, **step, **(query[p] if f == 0 else {})}
            for k in res["cpu"]:
                d = float(np.max(np.abs(res["cpu"][k].astype(np.float64) - res[a.provider][k])))
                worst[k] = max(worst.get(k, 0.0), d)
                print(f"frame {f} {k:20s} max|{a.provider}-cpu| = {d:.3g}")
    bad = [k for k, d in worst.items() if d > TOLERANCE.get(k, 1e-3)]
    print(f"parity {a.provider} vs cpu, {a.frames} frames, {a.points} points: " +
          ", ".join(f"{k} {d:.3g} (tol {TOLERANCE.get(k, 1e-3):g})" for k, d in worst.items()))
    print("PARITY OK" if not bad else f"PARITY FAILED: {', '.join(bad)}")
    return 0 if not bad else 1


if __name__ == "__main__":
    sys.exit(main())
