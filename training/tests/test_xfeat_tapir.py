"""XFeatTapir prototype: exports through the encoder/query/step contract and ONNX Runtime matches torch."""
import numpy as np
import pytest
import torch

from causaltap_training.backbones.xfeat import pretrained_dir


def test_export_and_step_match_ort(tmp_path, ort):
    if pretrained_dir() is None:
        pytest.skip("../shared/pretrained/xfeat.onnx not found (set CAUSALTAP_SHARED to the shared folder)")
    from causaltap_training.export.onnx_export import export_tapir
    from causaltap_training.tapir.xfeat_tapir import XFeatTapir, xfeat_config

    torch.manual_seed(0)
    model = XFeatTapir(xfeat_config(resolution=(64, 96)), pretrained_dir() / "xfeat.onnx").eval()
    assert not any(p.requires_grad for p in model.xfeat.parameters())
    infos = export_tapir(model, tmp_path)
    assert set(infos) == {"encoder", "query", "step"}
    frame = torch.rand(1, 3, 64, 96) * 2 - 1
    pts = torch.tensor([[10.0, 20.0], [40.5, 33.2]])
    with torch.no_grad():
        grids = model.encode(frame)
        q = model.query_features(grids, pts)
        want = model.step(grids, q, model.initial_state(2))
    assert grids.lowres.shape == (1, 64, 8, 12) and grids.hires.shape == (1, 64, 16, 24)
    enc = ort.onnx_run(tmp_path / "encoder.onnx", {"frame": frame.numpy()})
    np.testing.assert_allclose(enc["lowres"], grids.lowres.numpy(), atol=1e-4)
    np.testing.assert_allclose(enc["hires"], grids.hires.numpy(), atol=1e-4)
    got = ort.onnx_run(tmp_path / "step.onnx", {
        "lowres": enc["lowres"], "hires": enc["hires"], "query_lowres": q.lowres.numpy(),
        "query_hires": q.hires.numpy(), "state": np.zeros((2, model.config.state_floats_per_point), np.float32)})
    np.testing.assert_allclose(got["position"], want.position.numpy(), atol=1e-3)


def test_supervised_xfeat_few_steps_and_resume(tmp_path):
    if pretrained_dir() is None:
        pytest.skip("../shared/pretrained/xfeat.onnx not found (set CAUSALTAP_SHARED to the shared folder)")
    import json

    from causaltap_training.train import supervised

    args = ["--backbone", "xfeat", "--batch", "1", "--frames", "4", "--size", "64", "--points", "8",
            "--workers", "0", "--no-real-textures", "--val-clips", "1", "--val-points", "8", "--log-every", "1",
            "--warmup", "2", "--threads", "1", "--out", str(tmp_path / "run"), "--val-dir", str(tmp_path / "val")]
    supervised.main(args + ["--steps", "2", "--val-every", "2"])
    supervised.main(args + ["--steps", "3", "--val-every", "3", "--resume"])
    steps = [json.loads(x)["step"] for x in (tmp_path / "run" / "train.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3]
    model = supervised.load_model(tmp_path / "run" / "last.pt")
    assert model.config.name == "xfeat_cpu" and model.xfeat is not None
