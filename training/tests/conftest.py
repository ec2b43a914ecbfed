"""Shared pytest set-up for training/: one torch thread count, and the fixture-skip rule."""
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from causaltap_training import fixtures  # noqa: E402

try:
    import torch

    # scripts/test.sh runs the suite once per count (CAUSALTAP_TEST_THREADS) so that no bound depends on it
    torch.set_num_threads(int(os.environ.get("CAUSALTAP_TEST_THREADS", "2")))
except ImportError:  # torch is installed by scripts/setup.sh; without it the model tests cannot run
    torch = None


@pytest.fixture(scope="session")
def require_fixtures():
    """Skips (with the reason) when ../shared/fixtures is not next to the repository."""
    if fixtures.shared_dir() is None:
        pytest.skip("../shared/fixtures not found (set CAUSALTAP_SHARED to the shared folder to run parity tests)")
    return fixtures


@pytest.fixture(scope="session")
def ort():
    """The C# ONNX Runtime harness (`causaltap onnx-run`); fails with what to do when it is not built."""
    from causaltap_training.export import runner

    try:
        runner.check_available()
    except runner.OnnxRunUnavailable as e:
        pytest.fail(f"causaltap onnx-run is not available: {e} (run ./scripts/setup.sh)")
    return runner
