"""Training smoke tests: losses/metrics sanity, a few steps on tiny clips, overfitting a fixed batch, exact
resume, and export of a trained checkpoint (plus ONNX Runtime when the C# runner is built)."""
import json

import numpy as np
import pytest
import torch

from causaltap_training.data.dataset import SyntheticClips
from causaltap_training.data.synthetic import SyntheticConfig
from causaltap_training.tapir import Tapir, preset
from causaltap_training.train import metrics, supervised
from causaltap_training.train.losses import huber, tapir_loss

TINY_ARGS = ["--preset", "cpu_fast", "--batch", "1", "--frames", "4", "--size", "64", "--points", "8",
             "--workers", "0", "--no-real-textures", "--val-clips", "1", "--val-points", "8", "--log-every", "1",
             "--warmup", "2", "--threads", "2"]


def _args(tmp_path, *extra):
    return TINY_ARGS + ["--out", str(tmp_path / "run"), "--val-dir", str(tmp_path / "val")] + list(extra)


def test_metrics_perfect_and_wrong():
    rng = np.random.default_rng(0)
    tracks = rng.uniform(0, 256, (5, 10, 2)).astype(np.float32)
    occ = rng.random((5, 10)) < 0.2
    q = np.zeros((5, 3), np.float32)
    occ[:, 0] = False
    m = metrics.tapvid_metrics(q, occ, tracks, occ, tracks)
    assert m["average_jaccard"] == pytest.approx(1.0) and m["occlusion_accuracy"] == pytest.approx(1.0)
    m2 = metrics.tapvid_metrics(q, occ, tracks, occ, tracks + 3.0)  # 4.24 px off: within 8 and 16 only
    assert m2["pts_within_4"] == 0 and m2["pts_within_8"] == pytest.approx(1.0)
    assert m2["average_jaccard"] == pytest.approx(0.4)


def test_huber():
    e = torch.tensor([[3.0, 4.0], [0.6, 0.8]])
    np.testing.assert_allclose(huber(e, 4.0).numpy(), [4.0 * (5 - 2), 0.5], rtol=1e-5)


def test_loss_terms_finite_and_masked():
    torch.manual_seed(0)
    model = Tapir(preset("cpu_fast", resolution=(64, 64)))
    ds = SyntheticClips(0, 2, SyntheticConfig(frames=4, size=(64, 64), num_points=6), use_real_textures=False)
    b = supervised.collate([ds[0], ds[1]])
    traj = model(b["video"], b["query_points"], causal=True)
    out = tapir_loss(traj, b["target_points"], b["occluded"], b["query_points"], model.config)
    assert torch.isfinite(out["loss"]) and out["loss"].requires_grad
    out["loss"].backward()
    grads = [p.grad for p in model.torch_cost_volume_track_mods.hid2.parameters()]
    assert all(g is not None and torch.any(g != 0) for g in grads), "stage-1 heat map gets no gradient"


def test_few_steps_write_logs_and_checkpoint(tmp_path):
    supervised.main(_args(tmp_path, "--steps", "3", "--val-every", "3", "--ckpt-every", "2"))
    run = tmp_path / "run"
    lines = [json.loads(x) for x in (run / "train.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines] == [1, 2, 3] and all(np.isfinite(r["loss"]) for r in lines)
    val = [json.loads(x) for x in (run / "val.jsonl").read_text().splitlines()]
    assert val[-1]["step"] == 3 and 0 <= val[-1]["average_jaccard"] <= 1
    assert torch.load(run / "last.pt")["step"] == 3


def test_overfits_a_fixed_batch(tmp_path):
    supervised.main(_args(tmp_path, "--steps", "30", "--fixed-batch", "--val-clips", "0", "--lr", "3e-3",
                          "--no-augment"))
    losses = [json.loads(x)["loss"] for x in (tmp_path / "run" / "train.jsonl").read_text().splitlines()]
    assert np.mean(losses[-5:]) < 0.7 * np.mean(losses[:5]), losses


def test_resume_reproduces(tmp_path):
    supervised.main(_args(tmp_path / "a", "--steps", "4", "--val-clips", "0"))
    supervised.main(_args(tmp_path / "b", "--steps", "2", "--val-clips", "0"))
    # continue the same run to 4 steps (same schedule: --steps is the run's total)
    supervised.main(_args(tmp_path / "b", "--steps", "4", "--val-clips", "0", "--resume"))
    a = torch.load(tmp_path / "a" / "run" / "last.pt")["model"]
    b = torch.load(tmp_path / "b" / "run" / "last.pt")["model"]
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-5, atol=1e-6)


def test_lr_schedule_is_a_function_of_the_total_steps():
    args = supervised.parse_args(["--steps", "100", "--out", "x", "--warmup", "10", "--lr", "1.0"])
    assert supervised.lr_at(0, args) == pytest.approx(0.1)
    assert supervised.lr_at(10, args) == pytest.approx(1.0)
    assert supervised.lr_at(100, args) == pytest.approx(0.05)


def test_export_trained_checkpoint(tmp_path):
    pytest.importorskip("onnx")
    from causaltap_training.export import runner
    from causaltap_training.export.onnx_export import export_tapir

    supervised.main(_args(tmp_path, "--steps", "1", "--val-clips", "0"))
    model = supervised.load_model(tmp_path / "run" / "last.pt").eval()
    infos = export_tapir(model, tmp_path / "onnx")
    assert set(infos) == {"encoder", "query", "step"}
    try:
        runner.check_available()
    except runner.OnnxRunUnavailable as e:
        pytest.skip(f"ONNX Runtime runner not built: {e}")
    frame = torch.rand(1, 3, 64, 64) * 2 - 1
    pts = torch.tensor([[10.0, 20.0], [40.5, 33.2]])
    with torch.no_grad():
        grids = model.encode(frame)
        q = model.query_features(grids, pts)
        want = model.step(grids, q, model.initial_state(2))
    enc = runner.onnx_run(tmp_path / "onnx" / "encoder.onnx", {"frame": frame.numpy()})
    got = runner.onnx_run(tmp_path / "onnx" / "step.onnx", {
        "lowres": enc["lowres"], "hires": enc["hires"], "query_lowres": q.lowres.numpy(),
        "query_hires": q.hires.numpy(), "state": np.zeros((2, model.config.state_floats_per_point), np.float32)})
    np.testing.assert_allclose(got["position"], want.position.numpy(), atol=1e-3)
    np.testing.assert_allclose(got["occlusion_logit"], want.occlusion_logit.numpy(), atol=1e-3)


def test_init_continues_another_run_and_links_it(tmp_path):
    from causaltap_training.export.card import training_history

    supervised.main(_args(tmp_path / "a", "--steps", "2", "--val-clips", "0"))
    supervised.main(_args(tmp_path / "b", "--steps", "4", "--val-clips", "0", "--init", str(tmp_path / "a" / "run" / "last.pt")))
    config = json.loads((tmp_path / "b" / "run" / "config.json").read_text())
    assert config["init_from_step"] == 2 and config["init_from"].endswith("last.pt")
    steps = [json.loads(line)["step"] for line in (tmp_path / "b" / "run" / "train.jsonl").read_text().splitlines()]
    assert steps and min(steps) > 2  # continued at step 3, not from scratch
    hist = training_history(tmp_path / "b" / "run")
    assert [h["steps"] for h in hist] == [2, 4]
    assert "--init " in hist[1]["command"] and "--resume" not in hist[1]["command"]
