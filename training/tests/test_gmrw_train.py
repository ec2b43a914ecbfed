"""GMRW self-supervised training: the random-walk loss, label warping, the online validation chain, the
training CLI (overfit, exact resume, dev-set guard) and its export to ONNX / a bundled model directory."""
import dataclasses
import json
import math
import subprocess

import numpy as np
import pytest
import torch

from causaltap_training.data.dataset import make_validation_set
from causaltap_training.data.synthetic import SyntheticConfig
from causaltap_training.gmrw import build_gmrw, track_clip, walk
from causaltap_training.train import gmrw_train

TINY = ["--preset", "cpu", "--batch", "1", "--clip-len", "3", "--size", "64", "--real-fraction", "0",
        "--no-real-textures", "--log-every", "1", "--warmup", "2", "--threads", "2", "--walk-rows", "64"]


def _args(tmp_path, *extra):
    return TINY + ["--out", str(tmp_path / "run"), "--val-dir", str(tmp_path / "val"), "--val-size", "64",
                   "--val-frames", "4", "--val-points", "8"] + list(extra)


# ------------------------------------------------------------------------------------------------- walk loss
def _peaked(perm: torch.Tensor, sharpness: float = 30.0) -> torch.Tensor:
    """[1,N,N] row-stochastic matrix with row i concentrated on column perm[i]."""
    n = perm.shape[0]
    return torch.softmax(sharpness * torch.eye(n)[perm], dim=-1)[None]


def test_identity_round_trip_has_near_zero_loss_and_a_shuffled_one_a_high_loss():
    n = 16
    ident = torch.arange(n)
    targets = ident[None]
    good = walk.cycle_loss([_peaked(ident)] * 4, targets)
    assert good < 1e-3
    # forward by one permutation and back by another: round trip = a derangement, not the identity
    g = torch.Generator().manual_seed(0)
    p = torch.randperm(n, generator=g)
    q = torch.roll(torch.argsort(p), 1)  # p then q is a cyclic shift of every cell
    bad, acc = walk.cycle_terms([_peaked(p), _peaked(q)], targets)
    assert bad > 10 and acc == 0
    # the same shuffled walk is right when the targets are where it goes (cell i -> p[i] -> q[p[i]]): label warping
    fine, acc = walk.cycle_terms([_peaked(p), _peaked(q)], q[p][None])
    assert fine < 1e-3 and acc == 1
    # a uniform walk costs log(N)
    uniform = torch.full((1, n, n), 1.0 / n)
    assert math.isclose(float(walk.cycle_loss([uniform, uniform], targets)), math.log(n), rel_tol=1e-5)


def test_dropped_targets_do_not_count():
    n = 9
    ident = torch.arange(n)
    targets = torch.arange(n)[None].clone()
    targets[0, :4] = -1
    wrong = _peaked(torch.roll(ident, 1))
    # rows 0..3 walk to the wrong cell but are dropped; rows 4.. are right with an identity walk on those rows
    mixed = _peaked(ident)[0].clone()
    mixed[:4] = wrong[0, :4]
    assert walk.cycle_loss([mixed[None]], targets) < 1e-3
    assert walk.cycle_loss([mixed[None]], torch.arange(n)[None]) > 5


def test_choose_rows_prefers_valid_cells():
    targets = torch.tensor([[-1, 3, -1, 5, 6, -1]])
    rows = walk.choose_rows(targets, 3, torch.Generator().manual_seed(1))
    assert sorted(rows[0].tolist()) == [1, 3, 4]


# ------------------------------------------------------------------------------------------------- label warping
def test_label_warping_maps_a_known_transform_exactly_and_drops_out_of_view_targets():
    size, stride = 64, 8
    ident = np.array([[1.0, 0, 0], [0, 1.0, 0]])
    shift = np.array([[1.0, 0, -16.0], [0, 1.0, 8.0]])  # view b = original moved 2 cells left, 1 cell down
    t = walk.warped_targets(ident, shift, (8, 8), stride).view(8, 8)
    for i in range(8):
        for j in range(8):
            ii, jj = i + 1, j - 2
            want = ii * 8 + jj if (0 <= ii < 8 and 0 <= jj < 8) else -1
            assert t[i, j] == want, (i, j)
    # a left-right mirror in view a only: cell (i, j) of a shows what cell (i, 7 - j) of b shows
    flip = np.array([[-1.0, 0, size], [0, 1.0, 0]])
    t = walk.warped_targets(flip, ident, (8, 8), stride).view(8, 8)
    assert t[3, 0] == 3 * 8 + 7 and t[5, 6] == 5 * 8 + 1
    # zoom x2 on the top-left quarter in view b: only the top-left quarter of view a stays in view
    zoom = np.array([[2.0, 0, 0], [0, 2.0, 0]])
    t = walk.warped_targets(ident, zoom, (8, 8), stride).view(8, 8)
    assert (t[:4, :4] >= 0).all() and (t[4:, :] == -1).all() and (t[:, 4:] == -1).all()
    assert t[1, 2] == 3 * 8 + 5  # centre (20, 12) -> (40, 24) -> cell (x 5, y 3)


def test_warp_frames_agrees_with_the_view_matrix():
    rng = np.random.default_rng(0)
    frames = torch.rand(2, 3, 64, 64) * 255
    m = walk.random_view(rng, 64, 0.6)
    out = walk.warp_frames(frames, m, (64, 64))
    # a pixel centre of the view samples the original at inv(m) of that centre
    inv = walk.invert_affine(m)
    for (x, y) in [(10.5, 20.5), (40.5, 33.5)]:
        ox, oy = inv @ np.array([x, y, 1.0])
        ref = torch.nn.functional.grid_sample(frames, torch.tensor([[[[ox / 32 - 1, oy / 32 - 1]]]], dtype=torch.float32).expand(2, 1, 1, 2),
                                              align_corners=False, padding_mode="border")[:, :, 0, 0]
        torch.testing.assert_close(out[:, :, int(y), int(x)], ref, atol=1e-3, rtol=1e-4)
    # an identity view is the identity
    torch.testing.assert_close(walk.warp_frames(frames, np.array([[1.0, 0, 0], [0, 1.0, 0]]), (64, 64)), frames,
                               atol=1e-3, rtol=1e-4)


def test_palindrome_has_two_steps_per_frame_gap_and_row_stochastic_transitions():
    torch.manual_seed(0)
    model = build_gmrw("cpu")
    va, vb = torch.rand(2, 1, 3, 3, 64, 64) * 255
    trans = walk.palindrome_transitions(model, va, vb)
    assert len(trans) == 4 and trans[0].shape == (1, 64, 64)
    for a in trans:
        torch.testing.assert_close(a.sum(-1), torch.ones(1, 64))


def test_edge_aware_smoothness():
    flat_img = torch.zeros(1, 3, 8, 8)
    flow = torch.zeros(1, 8, 8, 2)
    assert walk.edge_aware_smoothness(flow, flat_img) == 0
    flow[:, :, 4:, 0] = 2.0  # a flow edge between columns 3 and 4
    plain = walk.edge_aware_smoothness(flow, flat_img)
    edge_img = flat_img.clone()
    edge_img[..., 4:] = 1.0  # an image edge at the same place: the flow edge is (almost) free
    assert plain > 0.1 and walk.edge_aware_smoothness(flow, edge_img) < 1e-3 * plain


# ------------------------------------------------------------------------------------------------- validation chain
def test_online_chain_matches_whole_clip_forward_tracking():
    torch.manual_seed(0)
    model = build_gmrw("cpu").eval()
    video = torch.rand(4, 3, 64, 64) * 255
    qp = np.array([[0, 10.5, 20.5], [0, 40.0, 33.0]], np.float32)  # (t, y, x) raster
    tracks, occ = gmrw_train.track_online(model, video, qp, sampling="flow")
    ref = track_clip(model, video, torch.from_numpy(qp - np.array([0, 0.5, 0.5], np.float32)), sampling="flow")
    np.testing.assert_allclose(tracks, ref.tracks.detach().permute(1, 0, 2).numpy() + 0.5, atol=1e-4)
    assert not occ[:, 0].any()


def test_online_chain_starts_each_point_at_its_query_frame():
    torch.manual_seed(0)
    model = build_gmrw("cpu").eval()
    video = torch.rand(4, 3, 64, 64) * 255
    qp = np.array([[2, 10.0, 20.0]], np.float32)
    tracks, occ = gmrw_train.track_online(model, video, qp)
    np.testing.assert_allclose(tracks[0, 2], [20.0, 10.0])
    assert not occ[0, 2]


# ------------------------------------------------------------------------------------------------- dev-set guard
def test_dev_set_is_refused(tmp_path):
    dev = tmp_path / "data" / gmrw_train.DEV_SET
    dev.mkdir(parents=True)
    with pytest.raises(ValueError, match="evaluation split"):
        gmrw_train.RealFrameStore(tmp_path / "data", [gmrw_train.DEV_SET], tmp_path / "store")
    with pytest.raises(ValueError, match="evaluation split"):
        gmrw_train.assert_not_dev_set(dev / "clip.npz")
    with pytest.raises(ValueError, match="evaluation split"):  # the CLI stops before training
        gmrw_train.main(_args(tmp_path, "--steps", "1", "--real-fraction", "0.5", "--data-root",
                              str(tmp_path / "data"), "--real-dirs", gmrw_train.DEV_SET))
    with pytest.raises(ValueError, match="evaluation split"):  # nor validates on it
        gmrw_train.main(_args(tmp_path, "--steps", "1", "--val-clips", "1") + ["--val-dir", str(dev)])
    assert not (tmp_path / "run" / "last.pt").exists()


def test_real_frame_store_decodes_videos_to_clips(tmp_path):
    cv2 = pytest.importorskip("cv2")
    d = tmp_path / "data" / "robot_real"
    d.mkdir(parents=True)
    vw = cv2.VideoWriter(str(d / "a.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 10, (96, 64))
    for k in range(12):
        img = np.zeros((64, 96, 3), np.uint8)
        img[:, : 8 * k] = 255
        vw.write(img)
    vw.release()
    store = gmrw_train.RealFrameStore(tmp_path / "data", ["robot_real"], tmp_path / "store", short_side=64)
    assert len(store) == 1
    clip = store.clip(np.random.default_rng(0), 3, 32)
    assert clip.shape == (3, 3, 32, 32) and 0 <= float(clip.min()) and float(clip.max()) <= 255
    assert list(tmp_path.joinpath("store").glob("*.npz"))  # cached for the next run


# ------------------------------------------------------------------------------------------------- training CLI
def test_overfits_a_fixed_batch(tmp_path):
    gmrw_train.main(_args(tmp_path, "--steps", "20", "--fixed-batch", "--val-clips", "0", "--lr", "3e-3"))
    recs = [json.loads(x) for x in (tmp_path / "run" / "train.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in recs]
    assert np.mean(losses[-3:]) < 0.6 * np.mean(losses[:3]), losses
    assert all(k in recs[0] for k in ("cycle", "smooth", "walk_acc", "grad_norm", "lr", "sec_per_step"))


def test_resume_reproduces(tmp_path):
    gmrw_train.main(_args(tmp_path / "a", "--steps", "3", "--val-clips", "0"))
    gmrw_train.main(_args(tmp_path / "b", "--steps", "2", "--val-clips", "0"))
    gmrw_train.main(_args(tmp_path / "b", "--steps", "3", "--val-clips", "0", "--resume"))
    a = torch.load(tmp_path / "a" / "run" / "last.pt")
    b = torch.load(tmp_path / "b" / "run" / "last.pt")
    assert a["step"] == b["step"] == 3
    for k in a["model"]:
        torch.testing.assert_close(a["model"][k], b["model"][k], rtol=1e-5, atol=1e-6)


def _smoke_run(tmp_path):
    gmrw_train.main(_args(tmp_path, "--steps", "2", "--val-every", "2", "--val-clips", "1"))
    return tmp_path / "run"


def test_smoke_two_steps_validate_and_export_to_onnx_runtime(tmp_path, ort):
    from causaltap_training.export.onnx_export import export_gmrw

    run = _smoke_run(tmp_path)
    val = [json.loads(x) for x in (run / "val.jsonl").read_text().splitlines()]
    assert val[-1]["step"] == 2 and 0 <= val[-1]["average_jaccard"] <= 1
    model = gmrw_train.load_model(run / "last.pt").eval()
    assert model.config == build_gmrw("cpu").config
    export_gmrw(model, tmp_path / "onnx", (64, 64), "feature")
    frames = torch.rand(2, 3, 64, 64) * 2 - 1
    pts = np.array([[10.0, 20.0], [40.5, 33.2]], np.float32)
    f0 = ort.onnx_run(tmp_path / "onnx" / "gmrw_encoder.onnx", {"frame": frames[:1].numpy()})["gmrw_features"]
    f1 = ort.onnx_run(tmp_path / "onnx" / "gmrw_encoder.onnx", {"frame": frames[1:].numpy()})["gmrw_features"]
    got = ort.onnx_run(tmp_path / "onnx" / "gmrw_match.onnx", {"prev_features": f0, "new_features": f1, "points": pts})
    with torch.no_grad():
        want = model.match(model.pair(torch.from_numpy(f0), torch.from_numpy(f1)),
                           torch.from_numpy(pts - 0.5)[None], "feature", image_hw=(64, 64))
    np.testing.assert_allclose(got["forward"], want.forward[0].numpy() + 0.5, atol=1e-3)
    np.testing.assert_allclose(got["fb_error"], want.fb_error[0].numpy(), atol=1e-3)


def test_bundle_with_a_gmrw_run_is_evaluated_by_the_engine(tmp_path, ort):
    from causaltap_training.export import bundle
    from causaltap_training.export.card import verify_model_dir
    from causaltap_training.tapir import Tapir, preset

    gmrw_run = _smoke_run(tmp_path / "g")
    tapir_run = tmp_path / "t"
    tapir_run.mkdir()
    config = preset("cpu")
    args = {"preset": "cpu", "steps": 10, "batch": 2, "frames": 12, "size": 256, "points": 48, "seed": 0,
            "threads": 2, "device": "cpu", "out": str(tapir_run)}
    (tapir_run / "config.json").write_text(json.dumps({"args": args, "model_config": dataclasses.asdict(config)}))
    (tapir_run / "train.jsonl").write_text(json.dumps({"step": 10, "elapsed_min": 1.0}) + "\n")
    torch.manual_seed(0)
    torch.save({"model": Tapir(config).state_dict(), "model_config": dataclasses.asdict(config), "step": 10},
               tapir_run / "last.pt")
    out = tmp_path / "models" / "m"
    assert bundle.main(["--run", str(tapir_run), "--gmrw-run", str(gmrw_run), "--out", str(out), "--name", "m"]) == 0

    card = json.loads((out / "model.json").read_text())
    assert card["families"] == ["tapir", "gmrw"]
    assert {"encoder.onnx", "gmrw_encoder.onnx", "gmrw_match.onnx"} <= set(verify_model_dir(out))
    assert card["gmrw"]["preset"] == "cpu" and card["gmrw"]["sampling"] == "feature"
    prov = card["provenance"]
    assert prov["tapir"]["steps"] == 10
    assert prov["gmrw"]["steps"] == 2 and "gmrw_train" in prov["gmrw"]["command"]
    assert "--preset cpu" in prov["gmrw"]["command"]

    data = tmp_path / "clips"
    make_validation_set(data, 1, SyntheticConfig(frames=4, size=(64, 64), num_points=8), use_real_textures=False)
    from causaltap_training.export.runner import CLI_DLL, _env
    done = subprocess.run(["dotnet", str(CLI_DLL), "eval", str(data), "--model", str(out), "--method", "gmrw",
                           "--json"], capture_output=True, text=True, env=_env(), timeout=600)
    assert done.returncode == 0, done.stderr + done.stdout
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["num_videos"] == 1 and 0.0 <= result["mean"]["average_jaccard"] <= 1.0
