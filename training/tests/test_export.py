"""ONNX export: every graph runs in ONNX Runtime (our C# binding, `causaltap onnx-run`) and matches PyTorch.

The ORT side is run like the engine runs it: each graph's outputs feed the next graph (encoder -> query -> step,
state fed back frame after frame; gmrw_encoder -> gmrw_match with the forward positions chained). The PyTorch
side is the online wrappers (`tapir.OnlineTracker`, `GMRW.step`). Max errors are printed (run with -s).

Tolerances: positions 1e-3 px, logits 1e-4, features/state 1e-4 (TAPIR). GMRW positions go through two peaked
soft-argmaxes of unnormalised random-weight features, where float32 rounding alone moves them by up to ~1e-3 px;
there the bound is `reference.gmrw_match_bound`: 4x the noise floor of PyTorch itself (|torch fp32 - fp64| of the
positions, measured per run), and sqrt(2) x that for fb_error.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")

from causaltap_training.export import (check_graph, export_model, graphs as g, runner,  # noqa: E402
                                       verify_model_dir)
from causaltap_training.export.reference import gmrw_float64_copy, gmrw_match_bound  # noqa: E402
from causaltap_training.gmrw import build_gmrw  # noqa: E402
from causaltap_training.gmrw.model import OnlineState  # noqa: E402
from causaltap_training.tapir import OnlineTracker, build  # noqa: E402

POS_TOL = 1e-3
LOGIT_TOL = 1e-4
FEAT_TOL = 1e-4

ERRORS = {}


def _record(key: str, value: float) -> float:
    ERRORS[key] = max(ERRORS.get(key, 0.0), float(value))
    return float(value)


@pytest.fixture(scope="module", autouse=True)
def _print_errors():
    yield
    if ERRORS:
        print("\nmax |ORT - torch|:\n" + "\n".join(f"  {k}: {v:.3g}" for k, v in sorted(ERRORS.items())))



def _maxdiff(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)))) if np.size(a) else 0.0


def _frames(n: int, h: int, w: int, seed: int) -> torch.Tensor:
    """Smooth random frames in [-1, 1] with a moving blob (something to track), [n, 3, h, w]."""
    gen = torch.Generator().manual_seed(seed)
    base = torch.nn.functional.interpolate(torch.rand(1, 3, h // 16, w // 16, generator=gen), size=(h, w),
                                           mode="bilinear", align_corners=False)
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    out = []
    for t in range(n):
        cx, cy = w * (0.3 + 0.05 * t), h * (0.4 + 0.03 * t)
        blob = torch.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * (w / 12) ** 2))
        out.append((base[0] * 0.7 + blob * torch.tensor([0.9, 0.2, 0.5]).view(3, 1, 1)).clamp(0, 1) * 2 - 1)
    return torch.stack(out)


def _points(n: int, h: int, w: int, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return (torch.rand(n, 2, generator=gen) * 0.9 + 0.05) * torch.tensor([w, h], dtype=torch.float32)


# ----------------------------------------------------------------------------------------------------- TAPIR
def _tapir_rollout(model, model_dir, ort, frames, points, new_points=None, add_at=None, tag=""):
    """ORT graphs vs OnlineTracker over the frames; `new_points` are added on frame `add_at` (zero state rows)."""
    tracker = OnlineTracker(model)
    q_lo = q_hi = state = None
    cfg = model.config
    for t in range(frames.shape[0]):
        frame = frames[t:t + 1]
        with torch.no_grad():
            grids = model.encode(frame)
        enc = ort.onnx_run(model_dir / "encoder.onnx", {"frame": frame.numpy()})
        _record(f"tapir{tag} encoder lowres", _maxdiff(enc["lowres"], grids.lowres))
        _record(f"tapir{tag} encoder hires", _maxdiff(enc["hires"], grids.hires))
        assert _maxdiff(enc["lowres"], grids.lowres) < FEAT_TOL and _maxdiff(enc["hires"], grids.hires) < FEAT_TOL
        adding = points if t == 0 else (new_points if t == add_at else None)
        if adding is not None:
            with torch.no_grad():
                tracker.add_points(grids, adding)
            q = ort.onnx_run(model_dir / "query.onnx", {"lowres": enc["lowres"], "hires": enc["hires"],
                                                        "points": adding.numpy()})
            rows = torch.zeros(adding.shape[0], cfg.state_floats_per_point).numpy()
            q_lo = q["query_lowres"] if q_lo is None else np.concatenate([q_lo, q["query_lowres"]])
            q_hi = q["query_hires"] if q_hi is None else np.concatenate([q_hi, q["query_hires"]])
            state = rows if state is None else np.concatenate([state, rows])
            _record(f"tapir{tag} query features", max(_maxdiff(q_lo, tracker.query.lowres),
                                                      _maxdiff(q_hi, tracker.query.hires)))
            assert _maxdiff(q_lo, tracker.query.lowres) < FEAT_TOL
        with torch.no_grad():
            traj = tracker.track(grids)
        out = ort.onnx_run(model_dir / "step.onnx", {"lowres": enc["lowres"], "hires": enc["hires"],
                                                     "query_lowres": q_lo, "query_hires": q_hi, "state": state})
        state = out["new_state"]
        pos = _record(f"tapir{tag} step position (px)", _maxdiff(out["position"], traj.tracks[-1, 0, :, 0]))
        occ = _record(f"tapir{tag} step occlusion_logit", _maxdiff(out["occlusion_logit"], traj.occlusion[-1, 0, :, 0]))
        exd = _record(f"tapir{tag} step expected_dist_logit",
                      _maxdiff(out["expected_dist_logit"], traj.expected_dist[-1, 0, :, 0]))
        from causaltap_training.tapir import state as cstate
        st = _record(f"tapir{tag} step new_state", _maxdiff(state, cstate.pack(tracker.state)))
        assert pos < POS_TOL, f"frame {t}: position differs by {pos} px"
        assert occ < LOGIT_TOL and exd < LOGIT_TOL, f"frame {t}: logits differ by {occ}, {exd}"
        assert st < FEAT_TOL, f"frame {t}: state differs by {st}"
    return out


@pytest.mark.parametrize("preset", ["tiny", "small"])
def test_tapir_causal_rollout_through_ort(preset, tmp_path, ort):
    torch.manual_seed(0)
    model = build(preset).eval()
    card = export_model(tmp_path, f"test-{preset}", "export test", tapir=model, tapir_preset=preset,
                        provenance={"source": "random-init", "seed": 0})
    h, w = model.config.resolution
    frames = _frames(4, h, w, seed=1)
    # 7 points (export traced 5: the point axis is dynamic); 2 more join on frame 2 with zero state rows
    _tapir_rollout(model, tmp_path, ort, frames, _points(7, h, w, 2), _points(2, h, w, 3), add_at=2, tag=f"[{preset}]")
    assert card["tapir"]["state"]["floats_per_point"] == model.config.state_floats_per_point


# ----------------------------------------------------------------------------------------------------- GMRW
def _gmrw_rollout(model, model_dir, ort, frames, points, tag="", sampling="flow"):
    """ORT gmrw graphs vs GMRW.step over the frames (forward positions chained)."""
    enc = g.GmrwEncoderGraph(model)
    model64 = None
    with torch.no_grad():
        feats = enc(frames[:1])
        state = OnlineState(feats, (points - 0.5)[None])  # GMRW: pixel-centre convention
        state64 = OnlineState(feats.double(), state.points.double())
    model64 = gmrw_float64_copy(model)
    prev = ort.onnx_run(model_dir / "gmrw_encoder.onnx", {"frame": frames[:1].numpy()})["gmrw_features"]
    _record(f"gmrw{tag} encoder features", _maxdiff(prev, feats))
    ort_points = points.numpy()
    for t in range(1, frames.shape[0]):
        frame = frames[t:t + 1]
        with torch.no_grad():
            res, state = model.step(state, (frame + 1) * 127.5, sampling)
            res64, state64 = model64.step(state64, (frame.double() + 1) * 127.5, sampling)
        new = ort.onnx_run(model_dir / "gmrw_encoder.onnx", {"frame": frame.numpy()})["gmrw_features"]
        feat_err = _record(f"gmrw{tag} encoder features", _maxdiff(new, state.features))
        scale = float(state.features.abs().max())
        assert feat_err < FEAT_TOL * max(1.0, scale), f"frame {t}: features differ by {feat_err} (scale {scale})"
        out = ort.onnx_run(model_dir / "gmrw_match.onnx", {"prev_features": prev, "new_features": new,
                                                           "points": ort_points})
        ref = {"forward": res.forward[0] + 0.5, "backward": res.backward[0] + 0.5, "fb_error": res.fb_error[0]}
        ref64 = {"forward": res64.forward[0] + 0.5, "backward": res64.backward[0] + 0.5, "fb_error": res64.fb_error[0]}
        for key, bound in gmrw_match_bound(ref, ref64).items():
            err = _record(f"gmrw{tag} match {key} (px)", _maxdiff(out[key], ref[key]))
            assert err < bound, f"frame {t}: {key} differs by {err} px (bound {bound}, from torch fp32 vs fp64)"
        prev, ort_points = new, out["forward"]


@pytest.mark.parametrize("preset", ["tiny", "small"])
def test_gmrw_matching_through_ort(preset, tmp_path, ort):
    torch.manual_seed(0)
    model = build_gmrw(preset).eval()
    export_model(tmp_path, f"test-gmrw-{preset}", "export test", gmrw=model, gmrw_preset=preset, size=(256, 256),
                 provenance={"source": "random-init", "seed": 0})
    _gmrw_rollout(model, tmp_path, ort, _frames(3, 256, 256, seed=4), _points(9, 256, 256, 5), tag=f"[{preset}]")


# ----------------------------------------------------------------------------------------------------- card
def test_model_json_describes_the_graphs(tmp_path):
    torch.manual_seed(0)
    card = export_model(tmp_path, "both", "tiny TAPIR + tiny GMRW", tapir=build("tiny").eval(), tapir_preset="tiny",
                        gmrw=build_gmrw("tiny").eval(), gmrw_preset="tiny",
                        provenance={"source": "random-init", "seed": 0})
    on_disk = json.loads((tmp_path / "model.json").read_text())
    assert on_disk["families"] == ["tapir", "gmrw"]
    assert on_disk["input"]["shape"] == [1, 3, 256, 256] and on_disk["input"]["channels"] == "RGB"
    assert on_disk["tapir"]["visibility"]["rule"] == "(1 - sigmoid(occlusion_logit)) * (1 - sigmoid(expected_dist_logit)) > 0.5"
    assert on_disk["export"]["opset"] == 17
    files = verify_model_dir(tmp_path)
    assert sorted(files) == ["encoder.onnx", "gmrw_encoder.onnx", "gmrw_match.onnx", "query.onnx", "step.onnx"]
    for family in ("tapir", "gmrw"):
        for name, graph in on_disk[family]["graphs"].items():
            proto = onnx.load(str(tmp_path / graph["file"]))
            assert proto.opset_import[0].version == 17
            assert [i.name for i in proto.graph.input] == [s["name"] for s in graph["inputs"]]
            assert [o.name for o in proto.graph.output] == [s["name"] for s in graph["outputs"]]
            for spec, value in zip(graph["inputs"] + graph["outputs"], list(proto.graph.input) + list(proto.graph.output)):
                dims = [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]
                assert dims == spec["shape"], f"{graph['file']} {spec['name']}: {dims} != {spec['shape']}"
            check_graph(proto, graph["file"])
    assert card == on_disk


def test_onnx_run_reports_bad_inputs(tmp_path, ort):
    torch.manual_seed(0)
    export_model(tmp_path, "t", "t", tapir=build("tiny").eval())
    with pytest.raises(runner.OnnxRunError) as missing:
        ort.onnx_run(tmp_path / "query.onnx", {"lowres": np.zeros((1, 64, 32, 32), np.float32)})
    assert missing.value.returncode == 2 and "input 'hires'" in str(missing.value) and "points" in str(missing.value)
    with pytest.raises(runner.OnnxRunError) as shape:
        ort.onnx_run(tmp_path / "encoder.onnx", {"frame": np.zeros((1, 3, 128, 128), np.float32)})
    assert shape.value.returncode == 2 and "expects Float [1, 3, 256, 256]" in str(shape.value)
    with pytest.raises(runner.OnnxRunError) as dtype:
        ort.onnx_run(tmp_path / "encoder.onnx", {"frame": np.zeros((1, 3, 256, 256), np.int64)})
    assert dtype.value.returncode == 2 and "int64" in str(dtype.value)


# ----------------------------------------------------------------------------------------------------- official
@pytest.mark.slow
def test_official_bootstapir_through_ort(tmp_path, ort):
    """The official BootsTAPIR architecture (fixture weights when ../shared/fixtures exists), 3-frame rollout."""
    from causaltap_training import fixtures

    model = build("bootstapir").eval()
    try:
        weights = fixtures.fixture_weights("tapir_causal")
        model.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()}, strict=True)
        source = "fixture weights"
    except FileNotFoundError:
        torch.manual_seed(0)
        model = build("bootstapir").eval()
        source = "random init"
    export_model(tmp_path, "bootstapir", f"official BootsTAPIR ({source})", tapir=model, tapir_preset="bootstapir")
    frames = _frames(3, 256, 256, seed=1)
    _tapir_rollout(model, tmp_path, ort, frames, _points(4, 256, 256, 2), _points(1, 256, 256, 3), add_at=1,
                   tag="[bootstapir]")


@pytest.mark.slow
def test_official_gmrw_through_ort(tmp_path, ort):
    from causaltap_training import fixtures

    model = build_gmrw("official").eval()
    try:
        weights = fixtures.fixture_weights("gmrw")
        model.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()}, strict=True)
    except FileNotFoundError:
        torch.manual_seed(0)
        model = build_gmrw("official").eval()
    export_model(tmp_path, "gmrw", "official GMRW", gmrw=model, gmrw_preset="official", size=(256, 256))
    _gmrw_rollout(model, tmp_path, ort, _frames(2, 256, 256, seed=4), _points(6, 256, 256, 5), tag="[official]")


# ------------------------------------------------------------------------------------------------------- CUDA
def test_tiny_graphs_on_cuda_match_cpu(tmp_path, ort):
    """Every graph runs on ORT's CUDA provider and matches the CPU run (TF32 off is ORT's CUDA default for fp32).

    Skips when the CUDA provider does not load here (no NVIDIA GPU, or no CUDA 13 / cuDNN 9): `onnx-run --provider
    cuda` then fails with "Execution provider 'cuda' cannot be used" (a named provider never falls back to CPU).
    """
    torch.manual_seed(0)
    tapir, gmrw = build("tiny").eval(), build_gmrw("tiny").eval()
    card = export_model(tmp_path, "cu", "cuda test", tapir=tapir, gmrw=gmrw)
    frame = _frames(1, 256, 256, seed=7).numpy()
    pts = _points(5, 256, 256, 8).numpy()

    def both(name, inputs):
        cpu = ort.onnx_run(tmp_path / name, inputs)
        try:
            gpu = ort.onnx_run(tmp_path / name, inputs, provider="cuda")
        except runner.OnnxRunError as e:
            if "cannot be used" not in str(e):
                raise
            pytest.skip(f"CUDA provider does not load here: {str(e)[-300:]}")
        for key in cpu:
            _record(f"cuda vs cpu {name} {key}", _maxdiff(gpu[key], cpu[key]))
        return cpu, gpu

    enc, enc_g = both("encoder.onnx", {"frame": frame})
    q, _ = both("query.onnx", {"lowres": enc["lowres"], "hires": enc["hires"], "points": pts})
    state = np.zeros((5, card["tapir"]["state"]["floats_per_point"]), np.float32)
    s, s_g = both("step.onnx", {"lowres": enc["lowres"], "hires": enc["hires"], "query_lowres": q["query_lowres"],
                                "query_hires": q["query_hires"], "state": state})
    f, _ = both("gmrw_encoder.onnx", {"frame": frame})
    m, m_g = both("gmrw_match.onnx", {"prev_features": f["gmrw_features"], "new_features": f["gmrw_features"],
                                      "points": pts})
    assert _maxdiff(enc_g["lowres"], enc["lowres"]) < FEAT_TOL
    assert _maxdiff(s_g["position"], s["position"]) < POS_TOL
    assert _maxdiff(s_g["occlusion_logit"], s["occlusion_logit"]) < 1e-3
    assert _maxdiff(s_g["new_state"], s["new_state"]) < 1e-3
    assert _maxdiff(m_g["forward"], m["forward"]) < 1e-2


def test_non_default_size(tmp_path, ort):
    """The spatial size is configurable (static per export): 128x192 for both families."""
    torch.manual_seed(0)
    tapir, gmrw = build("tiny").eval(), build_gmrw("tiny").eval()
    card = export_model(tmp_path, "small-size", "128x192", tapir=tapir, gmrw=gmrw, size=(128, 192))
    assert card["input"]["shape"] == [1, 3, 128, 192] and tuple(tapir.config.resolution) == (128, 192)
    assert card["tapir"]["graphs"]["encoder"]["outputs"][0]["shape"] == [1, 64, 16, 24]
    frames = _frames(2, 128, 192, seed=9)
    _tapir_rollout(tapir, tmp_path, ort, frames, _points(3, 128, 192, 10), tag="[tiny 128x192]")
    _gmrw_rollout(gmrw, tmp_path, ort, frames, _points(3, 128, 192, 11), tag="[tiny 128x192]")
