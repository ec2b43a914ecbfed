"""Causal TAPIR / BootsTAPIR: parity with the official tapnet torch outputs, and behaviour of the small presets.

Parity tests (marked `parity`) load the fixture's deterministic weights with strict=True into the `bootstapir`
preset, run the documented call patterns once per module (shared fixtures) and compare every array of
online.npz, intermediates.npz, offline.npz and variant_tau10.npz with the tolerances of tolerance.json.
"""
from __future__ import annotations

import dataclasses
from typing import Dict

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from causaltap_training.tapir import OnlineTracker, Tapir, build, preset, track_clip_online, visible_prob  # noqa: E402
from causaltap_training.tapir import state as cstate  # noqa: E402
from causaltap_training.tapir.layers import jax_same_padding  # noqa: E402
from causaltap_training.tapir.model import FeatureGrids  # noqa: E402
from causaltap_training.tapir.online import concat_time  # noqa: E402

FIXTURE = "tapir_causal"
NUM_FRAMES = 6

# Every array of every fixture file (the README lists them); `test_fixture_files_fully_covered` checks this list
# against the files, so a new fixture array cannot go uncompared.
ONLINE_KEYS = ["tracks", "occlusion", "expected_dist", "visible_prob", "visible", "iter_tracks", "iter_occlusion",
               "iter_expected_dist"]
BB_STAGES = ["initial_conv", "resnet_unit_0", "resnet_unit_1", "resnet_unit_2", "resnet_unit_3"]
INTERMEDIATE_KEYS = (
    ["lowres_f0", "hires_f0", "resnet_unit_3_raw_f0", "extra_convs_out_l2norm_f0", "hires_raw_l2norm_f0"]
    + [f"bb_{s}_{k}" for s in BB_STAGES for k in ("chmean", "chstd", "topleft8", "bottomright8")]
    + ["query_feat_lowres", "query_feat_hires", "cost_hid2_logits", "mixer_in_f01", "mixer_out_f01"]
    + [f"state_after_f{f}_causal_{c}_{k}" for f in (0, 1) for c in (1, 2) for k in ("sum", "abssum")]
    + ["state_after_f1_causal_1_pts0_5", "state_after_f1_causal_2_pts0_5", "preprocessed_input_sum"])
OFFLINE_KEYS = [f"{mode}_{kind}" for mode in ("causal", "noncausal")
                for kind in ("tracks", "occlusion", "expected_dist", "unrefined_tracks", "unrefined_occlusion",
                             "unrefined_expected_dist")]
FILES = {"online.npz": ONLINE_KEYS, "intermediates.npz": INTERMEDIATE_KEYS, "offline.npz": OFFLINE_KEYS,
         "variant_tau10.npz": ONLINE_KEYS}
CASES = [(f, k) for f, keys in FILES.items() for k in keys]


def _np(x: torch.Tensor) -> np.ndarray:
    return x.detach().cpu().numpy()


# ---------------------------------------------------------------------------------------------- shared runs
@pytest.fixture(scope="module")
def official(require_fixtures):
    """(fixtures module, bootstapir model with the fixture weights, inputs, preprocessed frames [T,3,H,W])."""
    fx = require_fixtures
    model = build("bootstapir").eval()
    weights = {k: torch.from_numpy(v) for k, v in fx.fixture_weights(FIXTURE).items()}
    model.load_state_dict(weights, strict=True)
    inputs = fx.load_npz(FIXTURE, "inputs.npz")
    u8 = torch.from_numpy(inputs["frames"])  # [T, H, W, 3]
    prep = u8.float() / 255 * 2 - 1  # exactly the documented float32 steps
    return fx, model, inputs, prep.permute(0, 3, 1, 2).contiguous()


@pytest.fixture(scope="module")
def clip_grids(official):
    """FeatureGrids of all 6 frames, encoded once (InstanceNorm is per frame, so batching changes nothing)."""
    _, model, _, frames = official
    with torch.no_grad():
        return model.encode(frames)


def _frame(grids: FeatureGrids, t: int) -> FeatureGrids:
    return FeatureGrids(grids.lowres[t:t + 1], grids.hires[t:t + 1])


def _run_online(model: Tapir, grids: FeatureGrids, points: torch.Tensor):
    """The fixture's call pattern: query features from frame 0, zero state, one step per frame 0..5."""
    tracker = OnlineTracker(model)
    with torch.no_grad():
        tracker.add_points(_frame(grids, 0), points)
        steps, states = [], []
        for t in range(NUM_FRAMES):
            steps.append(tracker.track(_frame(grids, t)))
            states.append(tracker.state)
    return tracker, concat_time(steps), states


def _online_arrays(traj) -> Dict[str, np.ndarray]:
    occ, expd = traj.occlusion[-1, 0], traj.expected_dist[-1, 0]
    vp = visible_prob(occ, expd)
    return {"tracks": _np(traj.tracks[-1, 0]), "occlusion": _np(occ), "expected_dist": _np(expd),
            "visible_prob": _np(vp), "visible": _np(vp > 0.5), "iter_tracks": _np(traj.tracks[:, 0]),
            "iter_occlusion": _np(traj.occlusion[:, 0]), "iter_expected_dist": _np(traj.expected_dist[:, 0])}


@pytest.fixture(scope="module")
def online_run(official, clip_grids):
    _, model, inputs, _ = official
    points = torch.flip(torch.from_numpy(inputs["query_points"])[:, 1:3], dims=(-1,))  # (t,y,x) -> (x,y)
    return _run_online(model, clip_grids, points)


@pytest.fixture(scope="module")
def ours(official, clip_grids, online_run) -> Dict[str, Dict[str, np.ndarray]]:
    """Our value of every fixture array, keyed like the fixture files."""
    fx, model, inputs, frames = official
    tracker, traj, states = online_run
    out: Dict[str, Dict[str, np.ndarray]] = {"online.npz": _online_arrays(traj)}

    # intermediates (frame 0 encoded on its own, the documented per-frame path)
    inter: Dict[str, np.ndarray] = {}
    with torch.no_grad():
        bb = model.resnet_torch(frames[0:1])
        grids0 = model.encode(frames[0:1])
        extra = model.extra_convs(bb.units[3])
    for name, x in zip(BB_STAGES, [bb.initial_conv] + list(bb.units)):
        x = _np(x[0]).astype(np.float64)
        inter[f"bb_{name}_chmean"] = x.mean((1, 2))
        inter[f"bb_{name}_chstd"] = x.std((1, 2))
        inter[f"bb_{name}_topleft8"] = x[:, :8, :8]
        inter[f"bb_{name}_bottomright8"] = x[:, -8:, -8:]
    inter["lowres_f0"] = _np(grids0.lowres[0].permute(1, 2, 0))
    inter["hires_f0"] = _np(grids0.hires[0].permute(1, 2, 0))
    inter["resnet_unit_3_raw_f0"] = _np(bb.units[3][0].permute(1, 2, 0))
    inter["extra_convs_out_l2norm_f0"] = _np(torch.linalg.norm(extra[0], dim=0))
    inter["hires_raw_l2norm_f0"] = _np(torch.linalg.norm(bb.units[1][0], dim=0))
    inter["query_feat_lowres"] = _np(tracker.query.lowres)
    inter["query_feat_hires"] = _np(tracker.query.hires)
    inter["cost_hid2_logits"] = _np(traj.heatmap_logits[0])
    inter["mixer_in_f01"] = _np(traj.mixer_inputs[:, 0, :, 0:2].permute(2, 0, 1, 3))
    inter["mixer_out_f01"] = _np(traj.mixer_outputs[:, 0, :, 0:2].permute(2, 0, 1, 3))
    for f in (0, 1):
        for c, tensor in ((1, states[f].conv1), (2, states[f].conv2)):
            t64 = tensor.double()
            inter[f"state_after_f{f}_causal_{c}_sum"] = _np(t64.sum(dim=(0, 3, 4)))
            inter[f"state_after_f{f}_causal_{c}_abssum"] = _np(t64.abs().sum(dim=(0, 3, 4)))
    inter["state_after_f1_causal_1_pts0_5"] = _np(states[1].conv1[[0, 5]].permute(1, 2, 0, 3, 4))
    inter["state_after_f1_causal_2_pts0_5"] = _np(states[1].conv2[[0, 5]].permute(1, 2, 0, 3, 4))
    inter["preprocessed_input_sum"] = np.array([frames.double().sum().item()])
    out["intermediates.npz"] = inter

    # whole-clip calls (TAPIR.forward), causal and non-causal, with the offline query set
    video = frames.unsqueeze(0)
    queries = torch.from_numpy(inputs["offline_query_points"]).unsqueeze(0)
    offline: Dict[str, np.ndarray] = {}
    with torch.no_grad():
        for mode, causal in (("causal", True), ("noncausal", False)):
            tr = model(video, queries, causal=causal)
            offline[f"{mode}_tracks"] = _np(tr.tracks[-1, 0])
            offline[f"{mode}_occlusion"] = _np(tr.occlusion[-1, 0])
            offline[f"{mode}_expected_dist"] = _np(tr.expected_dist[-1, 0])
            offline[f"{mode}_unrefined_tracks"] = _np(tr.tracks[:-1, 0])
            offline[f"{mode}_unrefined_occlusion"] = _np(tr.occlusion[:-1, 0])
            offline[f"{mode}_unrefined_expected_dist"] = _np(tr.expected_dist[:-1, 0])
    out["offline.npz"] = offline

    # softmax temperature 10 (the JAX BootsTAPIR value): same weights, replaced config
    model10 = Tapir(dataclasses.replace(model.config, softmax_temperature=10.0)).eval()
    model10.load_state_dict(model.state_dict(), strict=True)
    points = torch.flip(torch.from_numpy(inputs["query_points"])[:, 1:3], dims=(-1,))
    out["variant_tau10.npz"] = _online_arrays(_run_online(model10, clip_grids, points)[1])
    return out


# ---------------------------------------------------------------------------------------------- parity
@pytest.mark.parity
def test_fixture_files_fully_covered(require_fixtures):
    for file, keys in FILES.items():
        assert sorted(require_fixtures.load_npz(FIXTURE, file)) == sorted(keys), file


@pytest.mark.parity
def test_state_dict_keys_and_shapes_match_official(require_fixtures):
    import json
    spec = json.loads((require_fixtures.fixture_dir(FIXTURE) / "state_dict_keys.json").read_text())
    want = {e["key"]: tuple(e["shape"]) for e in spec["entries"]}
    got = {k: tuple(v.shape) for k, v in build("bootstapir").state_dict().items()}
    assert got == want


@pytest.mark.parity
@pytest.mark.parametrize("file,key", CASES, ids=[f"{f[:-4]}:{k}" for f, k in CASES])
def test_array_matches_official(require_fixtures, ours, file, key):
    want = require_fixtures.load_npz(FIXTURE, file)[key]
    got = ours[file][key]
    assert got.shape == want.shape, (got.shape, want.shape)
    if want.dtype == np.bool_:
        assert np.array_equal(got, want), f"{int(np.sum(got != want))} of {want.size} mismatches"
        return
    tol = require_fixtures.tolerances(FIXTURE)["files"][file][key]["rec_abs_tol"]
    err = float(np.max(np.abs(got.astype(np.float64) - want.astype(np.float64))))
    assert err <= tol, f"max abs err {err:.3e} > tol {tol:g} (scale {np.max(np.abs(want)):.3g})"


@pytest.mark.parity
def test_single_frame_encode_equals_batched(official, clip_grids):
    _, model, _, frames = official
    with torch.no_grad():
        g3 = model.encode(frames[3:4])
    assert torch.allclose(g3.lowres, clip_grids.lowres[3:4], atol=1e-5)
    assert torch.allclose(g3.hires, clip_grids.hires[3:4], atol=1e-5)


@pytest.mark.parity
def test_state_official_layout_roundtrip(online_run):
    state = online_run[2][1]
    dicts = cstate.to_official(state)
    assert len(dicts) == 4 and dicts[0]["block_11_causal_2"].shape == (1, 8, 2, 2048)
    back = cstate.from_official(dicts)
    assert torch.equal(back.conv1, state.conv1) and torch.equal(back.conv2, state.conv2)


# ---------------------------------------------------------------------------------------------- presets
def _random_model(name: str, seed: int = 0) -> Tapir:
    torch.manual_seed(seed)
    return build(name).eval()


@pytest.mark.parametrize("name", ["bootstapir", "tapir", "small", "tiny"])
def test_presets_build(name):
    cfg = preset(name)
    model = Tapir(cfg)
    assert sum(p.numel() for p in model.parameters()) > 0
    assert model.torch_pips_mixer.linear.in_features == cfg.mixer_input_dim
    assert model.torch_pips_mixer.linear_1.out_features == cfg.mixer_output_dim


def test_official_sizes():
    boots, tapir = preset("bootstapir"), preset("tapir")
    assert boots.mixer_input_dim == 535 and boots.mixer_output_dim == 388
    assert tapir.mixer_input_dim == 486 and tapir.extra_conv_blocks == 0 and not tapir.causal
    assert boots.state_floats_per_point * 4 / 2 ** 20 == pytest.approx(0.9375)  # DESIGN: ~0.94 MiB per point
    assert sum(p.numel() for p in build("bootstapir").parameters()) == 54_699_335  # = fixture num_values


def test_jax_same_padding():
    assert jax_same_padding(256, 7, 2) == (2, 3)
    assert jax_same_padding(128, 3, 2) == (0, 1)
    assert jax_same_padding(64, 3, 1) == (1, 1)
    assert jax_same_padding(33, 3, 2) == (1, 1)


def _clip(t: int = 4, size: int = 256, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(t, 3, size, size, generator=g) * 2 - 1


@pytest.mark.parametrize("name", ["small", "tiny"])
def test_small_preset_step_shapes(name):
    model = _random_model(name)
    cfg = model.config
    frames = _clip(2)
    points = torch.tensor([[10.0, 20.0], [128.5, 64.0], [255.0, 0.0], [3.0, 250.0], [100.0, 100.0]])
    with torch.no_grad():
        g0 = model.encode(frames[0:1])
        assert g0.lowres.shape == (1, cfg.lowres_dim, 32, 32) and g0.hires.shape == (1, cfg.hires_dim, 64, 64)
        q = model.query_features(g0, points)
        assert q.lowres.shape == (5, cfg.lowres_dim) and q.hires.shape == (5, cfg.hires_dim)
        state = model.initial_state(5)
        out = model.step(model.encode(frames[1:2]), q, state)
    lead = (5, cfg.num_pips_iter, cfg.num_mixer_blocks, cfg.mixer_kernel_size - 1)
    assert out.position.shape == (5, 2)
    assert out.occlusion_logit.shape == (5,) and out.expected_dist_logit.shape == (5,)
    assert out.state.conv1.shape == lead + (cfg.mixer_hidden_dim,)
    assert out.state.conv2.shape == lead + (cfg.mixer_hidden_dim * cfg.mixer_expansion,)
    assert torch.isfinite(out.position).all() and out.state.conv1.abs().sum() > 0
    packed = cstate.pack(out.state)
    assert packed.shape == (5, cfg.state_floats_per_point)
    back = cstate.unpack(packed, cfg)
    assert torch.equal(back.conv1, out.state.conv1) and torch.equal(back.conv2, out.state.conv2)


def test_adding_point_resets_only_its_rows():
    model = _random_model("tiny")
    frames = _clip(4)
    with torch.no_grad():
        grids = model.encode(frames)
        tracker = OnlineTracker(model)
        tracker.add_points(_frame(grids, 0), torch.tensor([[30.0, 40.0], [90.0, 150.0], [200.0, 60.0]]))
        for t in range(3):
            tracker.track(_frame(grids, t))
        before = tracker.state
        rows = tracker.add_points(_frame(grids, 2), torch.tensor([[120.0, 120.0]]), slots=[1])
        assert rows == [1]
        after = tracker.state
        assert torch.count_nonzero(after.conv1[1]) == 0 and torch.count_nonzero(after.conv2[1]) == 0
        for r in (0, 2):
            assert torch.equal(after.conv1[r], before.conv1[r]) and torch.equal(after.conv2[r], before.conv2[r])
        rows = tracker.add_points(_frame(grids, 2), torch.tensor([[10.0, 10.0], [20.0, 20.0]]))
        assert rows == [3, 4] and tracker.state.conv1.shape[0] == 5
        assert torch.count_nonzero(tracker.state.conv1[3:]) == 0
        assert torch.equal(tracker.state.conv1[:3], after.conv1)
        out = tracker.track(_frame(grids, 3))
        assert out.tracks.shape == (model.config.num_pips_iter + 1, 1, 5, 1, 2)


@pytest.mark.parametrize("name", ["small", "tiny"])
def test_online_equals_offline_causal(name):
    model = _random_model(name)
    frames = _clip(5)
    points = torch.tensor([[30.0, 40.0], [90.5, 150.0], [200.0, 60.0], [128.0, 128.0]])
    queries = torch.cat([torch.zeros(4, 1), torch.flip(points, (-1,))], -1).unsqueeze(0)  # (t, y, x)
    with torch.no_grad():
        online = track_clip_online(model, frames, points)
        offline = model(frames.unsqueeze(0), queries, causal=True, snap_queries=False)
        snapped = model(frames.unsqueeze(0), queries, causal=True)
    for field in ("tracks", "occlusion", "expected_dist", "mixer_inputs"):
        a, b = getattr(online, field), getattr(offline, field)
        assert torch.allclose(a, b, atol=1e-4, rtol=1e-4), (field, float((a - b).abs().max()))
    assert torch.allclose(snapped.tracks[0, 0, :, 0], points)  # offline snaps stage 1 at the query frame


@pytest.mark.parametrize("name", ["small", "tiny"])
def test_causal_ignores_future_noncausal_does_not(name):
    model = _random_model(name)
    frames = _clip(4)
    changed = frames.clone()
    changed[3] = -changed[3]
    queries = torch.tensor([[[0.0, 40.0, 30.0], [1.0, 150.0, 90.0]]])
    with torch.no_grad():
        a = model(frames.unsqueeze(0), queries, causal=True)
        b = model(changed.unsqueeze(0), queries, causal=True)
        c = model(frames.unsqueeze(0), queries, causal=False)
        d = model(changed.unsqueeze(0), queries, causal=False)
    assert torch.equal(a.tracks[..., :3, :], b.tracks[..., :3, :])
    assert not torch.allclose(c.tracks[1:, :, :, 2], d.tracks[1:, :, :, 2])


def test_gradients_flow_through_clip_forward():
    model = _random_model("tiny").train()
    queries = torch.tensor([[[0.0, 40.0, 30.0], [2.0, 150.0, 90.0]]])
    traj = model(_clip(3).unsqueeze(0), queries, causal=False)
    (traj.tracks[-1].sum() + traj.occlusion.sum() + traj.expected_dist.sum()).backward()
    assert model.resnet_torch.initial_conv.weight.grad.abs().sum() > 0
    assert model.torch_pips_mixer.blocks[0].mlp1_up.weight.grad.abs().sum() > 0
