"""Converter CLI end to end: official-layout checkpoint files (fixture weights) -> model dir -> ONNX Runtime.

The checkpoints are built from the deterministic fixture weights (training/causaltap_training/fixtures.py) in the
official layouts, saved with torch.save and converted by `python -m causaltap_training.convert` in a subprocess.
The graphs then run through `causaltap onnx-run` and are compared with the PyTorch model holding the same weights.
Unsupported files must exit with status 2 and a message that says what was expected and what was found.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from causaltap_training.export import graphs as g, verify_model_dir  # noqa: E402
from causaltap_training.export.onnx_export import sha256_file  # noqa: E402
from causaltap_training.export.reference import gmrw_float64_copy, gmrw_match_bound  # noqa: E402

TRAINING = Path(__file__).resolve().parents[1]


def _convert(*args, timeout=1800):
    return subprocess.run([sys.executable, "-m", "causaltap_training.convert", *map(str, args)], cwd=TRAINING,
                          capture_output=True, text=True, timeout=timeout)




def _run_tapir_graphs(ort, out, card, frame, points):
    """encoder -> query -> step of a converted model directory in ONNX Runtime, for fresh points (zero state)."""
    enc = ort.onnx_run(out / "encoder.onnx", {"frame": frame.numpy()})
    q = ort.onnx_run(out / "query.onnx", {"lowres": enc["lowres"], "hires": enc["hires"], "points": points.numpy()})
    state = np.zeros((points.shape[0], card["tapir"]["state"]["floats_per_point"]), np.float32)
    s = ort.onnx_run(out / "step.onnx", {"lowres": enc["lowres"], "hires": enc["hires"], "query_lowres": q["query_lowres"],
                                         "query_hires": q["query_hires"], "state": state})
    return enc, q, s

@pytest.fixture(scope="module")
def tapir_weights(require_fixtures):
    return {k: torch.from_numpy(v) for k, v in require_fixtures.fixture_weights("tapir_causal").items()}


@pytest.fixture(scope="module")
def gmrw_weights(require_fixtures):
    return {k: torch.from_numpy(v) for k, v in require_fixtures.fixture_weights("gmrw").items()}


def _check_card(out: Path, ckpt: Path, arch: str) -> dict:
    card = json.loads((out / "model.json").read_text())
    assert card["provenance"]["source"] == "checkpoint"
    assert card["provenance"]["file"] == ckpt.name and card["provenance"]["sha256"] == sha256_file(ckpt)
    assert card["provenance"]["arch"] == arch
    files = verify_model_dir(out)  # every listed file exists and its sha256 matches
    for name, digest in files.items():
        assert digest == sha256_file(out / name)
    return card


def _frame(seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    small = torch.rand(1, 3, 16, 16, generator=gen)
    return torch.nn.functional.interpolate(small, size=(256, 256), mode="bilinear", align_corners=False) * 2 - 1


def test_convert_gmrw_wrapped_checkpoint_end_to_end(tmp_path, gmrw_weights, ort):
    """Official GMRW save format: {"model": state_dict with DDP "module." prefixes, "optimizer": ..., "epoch": ...}."""
    from causaltap_training.gmrw import build_gmrw

    ckpt = tmp_path / "gmrw_official.pt"
    torch.save({"model": {f"module.{k}": v for k, v in gmrw_weights.items()}, "optimizer": {"state": {}},
                "epoch": 7}, ckpt)
    out = tmp_path / "models" / "gmrw-official"
    proc = _convert(ckpt, "--arch", "gmrw", "--out", out)
    assert proc.returncode == 0, proc.stderr
    card = _check_card(out, ckpt, "gmrw")
    assert card["families"] == ["gmrw"] and card["gmrw"]["preset"] == "official"

    model = build_gmrw("official").eval()
    model.load_state_dict(gmrw_weights, strict=True)
    f0, f1 = _frame(1), _frame(2)
    points = torch.tensor([[40.5, 60.25], [128.0, 128.0], [200.75, 30.5]])
    e0 = ort.onnx_run(out / "gmrw_encoder.onnx", {"frame": f0.numpy()})["gmrw_features"]
    e1 = ort.onnx_run(out / "gmrw_encoder.onnx", {"frame": f1.numpy()})["gmrw_features"]
    m = ort.onnx_run(out / "gmrw_match.onnx", {"prev_features": e0, "new_features": e1, "points": points.numpy()})
    with torch.no_grad():
        t0 = g.GmrwEncoderGraph(model)(f0)
        # The match graph is checked on ORT's own encoder outputs, so that it alone is compared: fed torch's
        # encoder outputs instead, the encoders' float32 difference is amplified by the soft-argmaxes and is
        # no part of the noise floor below (that made the old bound fail on AMD EPYC, issue 12).
        same = (torch.from_numpy(e0), torch.from_numpy(e1), points)
        ref32 = g.GmrwMatchGraph(model, (256, 256))(*same)
        ref64 = g.GmrwMatchGraph(gmrw_float64_copy(model), (256, 256))(*(x.double() for x in same))
    scale = float(t0.abs().max())
    assert np.abs(e0 - t0.numpy()).max() < 1e-4 * max(1.0, scale)
    ref32, ref64 = (dict(zip(g.GMRW_MATCH_IO[1], r)) for r in (ref32, ref64))
    bound = gmrw_match_bound(ref32, ref64)
    errs = {k: float(np.abs(m[k] - r.numpy()).max()) for k, r in ref64.items()}
    print("gmrw converted, max |ORT - fp64| px:", errs, "bound:", bound)
    for k, bound_k in bound.items():
        assert errs[k] < bound_k, (k, errs[k], bound_k)


@pytest.mark.slow
def test_convert_bootstapir_checkpoint_end_to_end(tmp_path, tapir_weights, ort):
    """causal_bootstapir_checkpoint.pt layout: a plain state_dict with the tapnet torch keys."""
    from causaltap_training.tapir import build

    weights = tapir_weights
    ckpt = tmp_path / "causal_bootstapir_checkpoint.pt"
    torch.save(weights, ckpt)
    out = tmp_path / "models" / "bootstapir"
    proc = _convert(ckpt, "--arch", "bootstapir", "--out", out, "--name", "bootstapir-test")
    assert proc.returncode == 0, proc.stderr
    card = _check_card(out, ckpt, "bootstapir")
    assert card["name"] == "bootstapir-test" and card["tapir"]["config"]["extra_conv_blocks"] == 5

    model = build("bootstapir").eval()
    model.load_state_dict(weights, strict=True)
    frame = _frame(3)
    points = torch.tensor([[40.5, 60.25], [128.0, 128.0], [200.75, 30.5]])
    enc, q, s = _run_tapir_graphs(ort, out, card, frame, points)
    with torch.no_grad():
        grids = model.encode(frame)
        query = model.query_features(grids, points)
        ref = model.step(grids, query, model.initial_state(3))
    errs = {"position": float(np.abs(s["position"] - ref.position.numpy()).max()),
            "occlusion_logit": float(np.abs(s["occlusion_logit"] - ref.occlusion_logit.numpy()).max()),
            "expected_dist_logit": float(np.abs(s["expected_dist_logit"] - ref.expected_dist_logit.numpy()).max())}
    print("bootstapir converted, max |ORT - torch|:", errs)
    assert errs["position"] < 1e-3 and errs["occlusion_logit"] < 1e-4 and errs["expected_dist_logit"] < 1e-4


# ----------------------------------------------------------------------------------------------------- rejects
def test_garbage_file_exits_2(tmp_path):
    bad = tmp_path / "weights.pt"
    bad.write_bytes(b"this is not a checkpoint\n" * 10)
    proc = _convert(bad, "--arch", "bootstapir", "--out", tmp_path / "out")
    assert proc.returncode == 2
    assert "is not a PyTorch checkpoint" in proc.stderr and "torch.save" in proc.stderr
    assert not (tmp_path / "out" / "model.json").exists()


def test_missing_file_exits_2(tmp_path):
    proc = _convert(tmp_path / "nope.pt", "--arch", "tapir", "--out", tmp_path / "out")
    assert proc.returncode == 2 and "no such file" in proc.stderr


def test_plain_numpy_array_exits_2(tmp_path):
    npy = tmp_path / "weights.npy"
    np.save(npy, np.zeros((3, 4), np.float32))
    proc = _convert(npy, "--arch", "bootstapir", "--out", tmp_path / "out")
    assert proc.returncode == 2 and "plain numpy array" in proc.stderr and "'params'" in proc.stderr


def test_jax_checkpoint_with_missing_module_exits_2(tmp_path, tapir_weights):
    from causaltap_training.jax_checkpoint import torch_to_jax

    tree = torch_to_jax({k: v.numpy() for k, v in tapir_weights.items()})
    del tree["params"]["tapir/~/pips_mlp_mixer/block_3/mlp1_up"]
    tree["params"]["tapir/~/something_new"] = {"w": np.zeros((2, 2), np.float32)}
    npy = tmp_path / "causal_bootstapir_checkpoint.npy"
    np.save(npy, np.array(tree, dtype=object), allow_pickle=True)
    proc = _convert(npy, "--arch", "bootstapir", "--out", tmp_path / "out")
    assert proc.returncode == 2
    assert "not a JAX bootstapir checkpoint" in proc.stderr and "block_3/mlp1_up:w" in proc.stderr
    assert "tapir/~/something_new:w" in proc.stderr


def test_jax_file_for_gmrw_exits_2(tmp_path):
    npy = tmp_path / "gmrw.npy"
    np.save(npy, np.array({"params": {"gmrw/~/x": {"w": np.zeros(2)}}}, dtype=object), allow_pickle=True)
    proc = _convert(npy, "--arch", "gmrw", "--out", tmp_path / "out")
    assert proc.returncode == 2 and "GMRW is released as a PyTorch checkpoint" in proc.stderr


def test_jax_layout_round_trip_matches_torch(tapir_weights):
    """torch fixture weights -> official Haiku layout -> our mapping -> the same model outputs (no file, no ORT)."""
    from causaltap_training.jax_checkpoint import jax_to_torch, torch_to_jax
    from causaltap_training.tapir import build

    tree = torch_to_jax({k: v.numpy() for k, v in tapir_weights.items()})
    assert tree["params"]["tapir/~/resnet/~/initial_conv"]["w"].shape == (7, 7, 3, 64)  # HWIO
    assert tree["params"]["tapir/~/pips_mlp_mixer/linear"]["w"].shape == (535, 512)  # [in, out]
    assert tree["params"]["tapir/~/pips_mlp_mixer/block_11/mlp1_up"]["w"].shape == (3, 1, 2048)
    assert tree["params"]["tapir/~/extra_convs/conv2_d_9"]["w"].shape == (3, 3, 1024, 256)
    model = build("bootstapir").eval()
    back = jax_to_torch(tree, {k: tuple(v.shape) for k, v in model.state_dict().items()})
    for k, v in tapir_weights.items():
        assert np.array_equal(back[k], v.numpy()), k
    model.load_state_dict({k: torch.from_numpy(v) for k, v in back.items()}, strict=True)


@pytest.mark.slow
def test_convert_jax_bootstapir_end_to_end(tmp_path, tapir_weights, ort):
    """A JAX-layout .npy of the fixture weights converts, gets temperature 10, and runs in ORT like PyTorch."""
    from causaltap_training.jax_checkpoint import torch_to_jax
    from causaltap_training.tapir import build, preset
    import dataclasses

    npy = tmp_path / "causal_bootstapir_checkpoint.npy"
    np.save(npy, np.array(torch_to_jax({k: v.numpy() for k, v in tapir_weights.items()}), dtype=object),
            allow_pickle=True)
    out = tmp_path / "models" / "bootstapir-jax"
    proc = _convert(npy, "--arch", "bootstapir", "--out", out)
    assert proc.returncode == 0, proc.stderr
    card = _check_card(out, npy, "bootstapir")
    assert card["provenance"]["format"] == "jax-npy" and card["tapir"]["config"]["softmax_temperature"] == 10.0
    model = build(dataclasses.replace(preset("bootstapir"), softmax_temperature=10.0)).eval()
    model.load_state_dict(tapir_weights, strict=True)
    frame = _frame(5)
    points = torch.tensor([[30.5, 70.25], [150.0, 100.0]])
    enc, q, s = _run_tapir_graphs(ort, out, card, frame, points)
    with torch.no_grad():
        grids = model.encode(frame)
        ref = model.step(grids, model.query_features(grids, points), model.initial_state(2))
    assert np.abs(s["position"] - ref.position.numpy()).max() < 1e-3
    assert np.abs(s["occlusion_logit"] - ref.occlusion_logit.numpy()).max() < 1e-4


def test_dict_without_state_dict_exits_2(tmp_path):
    ckpt = tmp_path / "odd.pt"
    torch.save({"epoch": 3, "config": {"lr": 1e-3}}, ckpt)
    proc = _convert(ckpt, "--arch", "gmrw", "--out", tmp_path / "out")
    assert proc.returncode == 2 and "without a state_dict" in proc.stderr and "'epoch'" in proc.stderr


def test_wrong_arch_names_missing_keys_and_the_right_arch(tmp_path, gmrw_weights):
    ckpt = tmp_path / "gmrw.pt"
    torch.save(gmrw_weights, ckpt)
    proc = _convert(ckpt, "--arch", "bootstapir", "--out", tmp_path / "out")
    assert proc.returncode == 2
    assert "is not a bootstapir checkpoint" in proc.stderr and "missing keys" in proc.stderr
    assert "unexpected keys" in proc.stderr and "--arch gmrw" in proc.stderr


def test_shape_mismatch_exits_2(tmp_path, gmrw_weights):
    weights = dict(gmrw_weights)
    weights["backbone.conv2.weight"] = torch.zeros(64, 128, 1, 1)
    ckpt = tmp_path / "gmrw_small.pt"
    torch.save(weights, ckpt)
    proc = _convert(ckpt, "--arch", "gmrw", "--out", tmp_path / "out")
    assert proc.returncode == 2
    assert "shape mismatch" in proc.stderr and "backbone.conv2.weight" in proc.stderr
