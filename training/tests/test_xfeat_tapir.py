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


def _translated_pair(dx: int, dy: int, h: int = 128, w: int = 192):
    """Two frames of one procedural texture, the second seen through a window moved by (dx, dy): content at (x, y)
    in frame 0 is at (x - dx, y - dy) in frame 1. Returns video [1, 2, 3, h, w] in [-1, 1]."""
    from causaltap_training.data.synthetic import procedural_texture

    m = 32
    tex = procedural_texture(np.random.default_rng(3), h + 2 * m, w + 2 * m)
    f0 = tex[m:m + h, m:m + w]
    f1 = tex[m + dy:m + dy + h, m + dx:m + dx + w]
    video = torch.from_numpy(np.stack([f0, f1])).permute(0, 3, 1, 2) / 127.5 - 1
    return video.unsqueeze(0)


def test_untrained_stage1_finds_translation():
    """Untrained XFeatTapir's stage-1 (global cost-volume) estimate follows a known translation.

    With the frozen pretrained descriptors, stage 1 must start where nearest-neighbour matching is; the bug it
    guards (issue 14): the randomly initialised heat-map head inverted the cost for some seeds and put every point
    in a corner, and training never recovered (val AJ 0.0). dx != dy and H != W catch (x, y) / (y, x) mix-ups.
    """
    if pretrained_dir() is None:
        pytest.skip("../shared/pretrained/xfeat.onnx not found (set CAUSALTAP_SHARED to the shared folder)")
    from causaltap_training.tapir.xfeat_tapir import XFeatTapir, xfeat_config

    dx, dy = 20, -12
    video = _translated_pair(dx, dy)
    ys, xs = torch.meshgrid(torch.arange(24.0, 104.0, 10.0), torch.arange(24.0, 168.0, 12.0), indexing="ij")
    query = torch.stack([torch.zeros(xs.numel()), ys.reshape(-1), xs.reshape(-1)], -1).unsqueeze(0)  # (t, y, x)
    truth = torch.stack([xs.reshape(-1) - dx, ys.reshape(-1) - dy], -1)  # (x, y) in frame 1
    for seed in (0, 1, 2):  # seed 0 inverted the cost with the default init
        torch.manual_seed(seed)
        model = XFeatTapir(xfeat_config(resolution=(128, 192)), pretrained_dir() / "xfeat.onnx").eval()
        with torch.no_grad():
            traj = model(video, query, causal=True, snap_queries=False)
            grids = model.encode(video[0])
        # the descriptors alone (raw cost argmax, no heads; 92% here): coordinates and grid stride are right
        q = model.clip_query_features(grids, torch.flip(query[..., 1:], (-1,)), query[..., 0].long(), 2)
        cost = torch.einsum("nc,chw->nhw", q.lowres[0], grids.lowres[1])
        gw = cost.shape[-1]
        best = cost.reshape(cost.shape[0], -1).argmax(-1)
        raw = torch.stack([best % gw + 0.5, best // gw + 0.5], -1).float() * 8
        raw_ok = ((raw - truth).norm(dim=-1) <= 8).float().mean()
        # stage 1 of the untrained model (its heat-map head on that cost volume)
        err = (traj.tracks[0, 0, :, 1] - truth).norm(dim=-1)
        ok = (err <= 12).float().mean()  # 1.5 cells: argmax cell + soft-argmax window (fixed: 97%, max 15 px)
        assert raw_ok >= 0.8, f"seed {seed}: raw descriptor argmax within 8 px for only {raw_ok:.0%} of points"
        assert ok >= 0.9, (f"seed {seed}: untrained stage 1 within 12 px (1.5 cells) for only {ok:.0%} of points "
                           f"(median error {err.median():.1f} px; raw argmax: {raw_ok:.0%})")
