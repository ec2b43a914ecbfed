"""Runs exported graphs in ONNX Runtime through `causaltap onnx-run` (the C# engine; there is no Python ORT here).

  outputs = onnx_run("models/x/step.onnx", {"lowres": ..., ...})   # dict of numpy arrays, by output name

The CLI must be built (`./scripts/setup.sh`, or `dotnet build src/CausalTap.Cli -c Release`); ONNX Runtime comes with
it (the Microsoft.ML.OnnxRuntime.Gpu.Linux NuGet package, copied into the CLI's output folder).
"""
from __future__ import annotations

import os
import re
import subprocess
import tempfile
from pathlib import Path
from typing import Dict, Mapping, Optional

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[3]
CLI_DLL = REPO_ROOT / "src" / "CausalTap.Cli" / "bin" / "Release" / "net10.0" / "causaltap.dll"
ORT_LIB = CLI_DLL.parent / "runtimes" / "linux-x64" / "native" / "libonnxruntime.so"


class OnnxRunUnavailable(RuntimeError):
    """The C# CLI or the ONNX Runtime library is missing (run ./scripts/setup.sh)."""


class OnnxRunError(RuntimeError):
    """`causaltap onnx-run` failed; the message holds its exit code and output."""

    def __init__(self, message: str, returncode: int) -> None:
        super().__init__(message)
        self.returncode = returncode


def check_available() -> None:
    """Raises OnnxRunUnavailable with what to do when the CLI, dotnet or the ORT library is missing."""
    if not CLI_DLL.exists():
        raise OnnxRunUnavailable(f"{CLI_DLL} not found: run ./scripts/setup.sh (it builds the CLI in Release)")
    if not ORT_LIB.exists():
        raise OnnxRunUnavailable(f"ONNX Runtime library {ORT_LIB} not found: run ./scripts/setup.sh (the build copies it)")
    try:
        subprocess.run(["dotnet", "--version"], capture_output=True, check=True, timeout=60)
    except (OSError, subprocess.CalledProcessError) as e:
        raise OnnxRunUnavailable(f"dotnet is not usable ({e}): run ./scripts/setup.sh") from e


def _env() -> dict:
    env = dict(os.environ)
    env.setdefault("DOTNET_CLI_TELEMETRY_OPTOUT", "1")
    env.setdefault("DOTNET_NOLOGO", "1")
    return env


def onnx_run(model: Path, inputs: Mapping[str, np.ndarray], provider: str = "cpu", threads: int = 0,
             repeat: int = 0, warmup: int = 1, timeout: float = 900, extra_args=()) -> Dict[str, np.ndarray]:
    """Runs one graph on `inputs` (matched by name) and returns every output; see `onnx_run_timed` for timings."""
    return onnx_run_timed(model, inputs, provider, threads, repeat, warmup, timeout, extra_args)[0]


def onnx_run_timed(model: Path, inputs: Mapping[str, np.ndarray], provider: str = "cpu", threads: int = 0,
                   repeat: int = 0, warmup: int = 1, timeout: float = 900, extra_args=()):
    """As `onnx_run`, returning (outputs, timing dict or None, stdout)."""
    check_available()
    with tempfile.TemporaryDirectory(prefix="onnx-run-") as tmp:
        in_path, out_path = Path(tmp) / "in.npz", Path(tmp) / "out.npz"
        np.savez(in_path, **{k: np.ascontiguousarray(v) for k, v in inputs.items()})
        cmd = ["dotnet", str(CLI_DLL), "onnx-run", str(model), str(in_path), str(out_path), "--provider", provider,
               "--threads", str(threads)]
        if repeat:
            cmd += ["--repeat", str(repeat), "--warmup", str(warmup)]
        cmd += list(extra_args)
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=_env())
        if proc.returncode != 0:
            raise OnnxRunError(f"causaltap onnx-run {Path(model).name} exited {proc.returncode}:\n"
                               f"{proc.stdout}{proc.stderr}", proc.returncode)
        with np.load(out_path) as data:
            outputs = {k: data[k] for k in data.files}
    timing = parse_timing(proc.stdout)
    return outputs, timing, proc.stdout


def parse_timing(stdout: str) -> Optional[dict]:
    """The `timing ...: key=value ...` line of `onnx-run --repeat`, as a dict (numbers as floats)."""
    for line in stdout.splitlines():
        if line.startswith("timing "):
            out = {}
            for key, value in re.findall(r"(\w+)=(\S+)", line):
                try:
                    out[key] = float(value)
                except ValueError:
                    out[key] = value
            return out
    return None


def cpu_name() -> str:
    """The CPU model from /proc/cpuinfo (benchmarks and model cards name the machine they ran on)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or "unknown CPU"
