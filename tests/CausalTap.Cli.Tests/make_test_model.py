"""Exports a random-init tiny TAPIR + tiny GMRW model directory for the CLI tests.

  /usr/bin/python3 tests/CausalTap.Cli.Tests/make_test_model.py OUT_DIR [--size 128]

Uses the export engineer's `causaltap_training.export.export_model`; writes OUT_DIR/model.json and the five
.onnx files, then OUT_DIR/DONE last (the tests treat a directory without it as incomplete).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "training"))

import torch  # noqa: E402

from causaltap_training.export import export_model  # noqa: E402
from causaltap_training.gmrw import build_gmrw  # noqa: E402
from causaltap_training.tapir import build  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--size", type=int, default=128, help="square model input (multiple of 32)")
    args = parser.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(0)
    tapir = build("tiny").eval()
    torch.manual_seed(1)
    gmrw = build_gmrw("tiny").eval()
    out = Path(args.out)
    export_model(out, "cli-test-tiny", "random-init tiny TAPIR + tiny GMRW (CLI tests)", tapir=tapir, gmrw=gmrw,
                 size=(args.size, args.size), tapir_preset="tiny", gmrw_preset="tiny",
                 provenance={"source": "random-init", "seed": 0})
    (out / "DONE").write_text("ok\n")


if __name__ == "__main__":
    main()
