"""GMRW: parity with the official code (shared/fixtures/gmrw) and properties of the sparse matcher.

Parity tests compare every array of pair01.npz, tracks.npz and variant_norm_true.npz with the
tolerances of tolerance.json. The official model runs once per module (a few seconds per pair).
"""
import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from causaltap_training.gmrw import (PRESETS, GMRW, OnlineState, PairFeatures, build_gmrw, clip_pair_features, flow_to_image,
                                     get_config, point_flow, track_clip, transition_rows_at_cells,
                                     transition_summary)
from causaltap_training.gmrw import matching
from causaltap_training.gmrw.transformer import shifted_window_mask

FIXTURE_FILES = ("pair01.npz", "tracks.npz", "variant_norm_true.npz")
ARGMAX_MIN_GAP = 2e-3  # README: compare transition_row_argmax only where the top-2 gap exceeds this


def _official_model(fx, **overrides) -> GMRW:
  model = build_gmrw("official", **overrides).eval()
  weights = {k: torch.from_numpy(v) for k, v in fx.fixture_weights("gmrw").items()}
  model.load_state_dict(weights, strict=True)
  return model


def _np(t):
  return t.detach().cpu().numpy()


@pytest.fixture(scope="module")
def official_outputs(require_fixtures):
  return compute_official_outputs(require_fixtures)


def compute_official_outputs(fx):
  """Our arrays for every fixture array, keyed {file: {key: array}}, plus own diagnostics."""
  inputs = fx.load_npz("gmrw", "inputs.npz")
  frames = torch.from_numpy(inputs["frames"]).permute(0, 3, 1, 2).float()  # [T,3,H,W] in [0,255]
  queries = torch.from_numpy(inputs["query_points"])
  cells = torch.from_numpy(fx.load_npz("gmrw", "pair01.npz")["transition_sample_cells"]).long()
  out = {}
  with torch.no_grad():
    model = _official_model(fx)
    temp = model.config.softmax_temperature
    x = model.normalize(frames[:2])
    branches = model.backbone(x, num_branches=2)
    pairs = clip_pair_features(model, frames)
    p01 = pairs[0]
    summary = transition_summary(p01.prev, p01.new, temp)
    out["pair01.npz"] = {
        "cnn_features": _np(branches[0]),
        "cnn_features_stride2_unused": _np(branches[1][:, :, :8, :8]),
        "pos_enc": _np(model.position_encoding(64, 64)),
        "transformer_out": _np(torch.cat(p01, dim=0)),
        "transition_sample_cells": _np(cells).astype(np.int32),
        "transition_sample_rows": _np(transition_rows_at_cells(p01.prev, p01.new, cells, temp)[0]),
        "transition_row_argmax": _np(summary.row_argmax[0]).astype(np.int32),
        "transition_row_max": _np(summary.row_max[0]),
        "transition_row_top2_gap": _np(summary.row_top2_gap[0]),
        "transition_col_sum": _np(summary.col_sum[0]),
        "flow_feat": _np(summary.flow[0]),
        "flow_256": _np(flow_to_image(summary.flow, (256, 256))[0]),
        "backbone_input_sum": np.array([x.double().sum().item()]),
    }
    clip = track_clip(model, frames, queries, with_dense_flows=True, pairs=pairs)
    out["tracks.npz"] = {
        "forward_flows_feat": _np(clip.forward_flows_feat),
        "backward_flows_feat": _np(clip.backward_flows_feat),
        "tracks": _np(clip.tracks),
        "visible": _np(clip.visible),
        "fb_dist": _np(clip.fb_dist),
    }
    model_n = _official_model(fx, norm=True)
    feats = model_n.encode(frames[:2]).features
    pn = model_n.pair(feats[:1], feats[1:])
    sn = transition_summary(pn.prev, pn.new, temp)
    tn = torch.cat(pn, dim=0)
    out["variant_norm_true.npz"] = {
        "flow_feat": _np(sn.flow[0]),
        "transition_row_argmax": _np(sn.row_argmax[0]).astype(np.int32),
        "transformer_out_chmean": _np(tn.mean(dim=(2, 3))),
        "transformer_out_chstd": _np(tn.std(dim=(2, 3), unbiased=False)),
    }
    out["_variant_gap"] = _np(sn.row_top2_gap[0])
  return out


def _all_cases():
  keys = {
      "pair01.npz": ["cnn_features", "cnn_features_stride2_unused", "pos_enc", "transformer_out",
                     "transition_sample_cells", "transition_sample_rows", "transition_row_argmax",
                     "transition_row_max", "transition_row_top2_gap", "transition_col_sum", "flow_feat",
                     "flow_256", "backbone_input_sum"],
      "tracks.npz": ["forward_flows_feat", "backward_flows_feat", "tracks", "visible", "fb_dist"],
      "variant_norm_true.npz": ["flow_feat", "transition_row_argmax", "transformer_out_chmean",
                                "transformer_out_chstd"],
  }
  return keys


CASES = [(f, k) for f, ks in _all_cases().items() for k in ks]


@pytest.mark.parity
def test_every_fixture_array_is_compared(require_fixtures):
  fx = require_fixtures
  for file in FIXTURE_FILES:
    assert sorted(fx.load_npz("gmrw", file)) == sorted(_all_cases()[file]), file
    assert sorted(fx.tolerances("gmrw")["files"][file]) == sorted(_all_cases()[file]), file


@pytest.mark.parity
def test_official_layout_loads_strict(require_fixtures):
  fx = require_fixtures
  spec = json.loads((fx.fixture_dir("gmrw") / "state_dict_keys.json").read_text())
  model = build_gmrw("official")
  shapes = {k: list(v.shape) for k, v in model.state_dict().items()}
  assert shapes == {e["key"]: e["shape"] for e in spec["entries"]}
  _official_model(fx)  # strict=True load of the generated weights


@pytest.mark.parity
@pytest.mark.slow
@pytest.mark.parametrize("file,key", CASES, ids=[f"{f[:-4]}:{k}" for f, k in CASES])
def test_matches_official(official_outputs, require_fixtures, file, key):
  fx = require_fixtures
  want = fx.load_npz("gmrw", file)[key]
  got = official_outputs[file][key]
  assert got.shape == want.shape, (got.shape, want.shape)
  tol = fx.tolerances("gmrw")["files"][file][key]
  if key == "transition_row_argmax":
    # exact where the row's top-2 gap is clear of fp noise (README)
    gap = fx.load_npz("gmrw", "pair01.npz")["transition_row_top2_gap"] if file == "pair01.npz" \
        else official_outputs["_variant_gap"]
    sure = gap > ARGMAX_MIN_GAP
    assert sure.sum() >= 4000
    mismatches = int((got != want)[sure].sum())
    assert mismatches == 0, f"{mismatches} argmax mismatches among {int(sure.sum())} clear rows"
  elif tol.get("rec") == "exact":
    assert np.array_equal(got, want), f"{int((got != want).sum())} mismatches"
  else:
    err = float(np.max(np.abs(got.astype(np.float64) - want.astype(np.float64))))
    assert err <= tol["rec_abs_tol"], f"max|diff| {err:.3e} > tol {tol['rec_abs_tol']:g}"


# ---------------------------------------------------------------------------------------------
# non-parity tests


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_presets_build_and_run(preset):
  torch.manual_seed(0)
  model = build_gmrw(preset).eval()
  cfg = model.config
  stride = cfg.feature_stride
  size = 64 if preset == "official" else 128
  frames = torch.rand(2, 3, size, size) * 255
  points = torch.tensor([[[3.0, 5.0], [size / 2, size / 3], [size - 1.0, 0.0]]])
  with torch.no_grad():
    feats = model.encode(frames).features
    assert feats.shape == (2, cfg.feature_channels, size // stride, size // stride)
    pair = model.pair(feats[:1], feats[1:])
    res = model.match(pair, points)
  assert res.forward.shape == (1, 3, 2) and res.backward.shape == (1, 3, 2)
  assert res.fb_error.shape == (1, 3) and res.occluded.dtype == torch.bool
  assert torch.isfinite(res.forward).all() and torch.isfinite(res.fb_error).all()
  n_params = sum(p.numel() for p in model.parameters())
  if preset == "official":
    assert n_params == 4_346_912
  else:
    assert n_params < 1_000_000
  for key in model.state_dict():
    assert key.startswith(("backbone.", "transformer.")), key


def test_get_config_overrides():
  cfg = get_config("official", norm=True)
  assert cfg.norm and not PRESETS["official"].norm
  assert math.isclose(cfg.softmax_temperature, math.sqrt(128))
  with pytest.raises(KeyError):
    get_config("nope")


def _index_bilinear_reference(image: np.ndarray, x: float, y: float) -> np.ndarray:
  """Official bilinear_sample2d for one point: image [C,H,W]; clamped corners, unclamped weights."""
  _, h, w = image.shape
  x0, y0 = math.floor(x), math.floor(y)
  x1, y1 = x0 + 1, y0 + 1
  cx0, cx1 = min(max(x0, 0), w - 1), min(max(x1, 0), w - 1)
  cy0, cy1 = min(max(y0, 0), h - 1), min(max(y1, 0), h - 1)
  return ((x1 - x) * (y1 - y) * image[:, cy0, cx0] + (x - x0) * (y1 - y) * image[:, cy0, cx1] +
          (x1 - x) * (y - y0) * image[:, cy1, cx0] + (x - x0) * (y - y0) * image[:, cy1, cx1])


def _full_matrix_flow(src: torch.Tensor, tgt: torch.Tensor, temp: float) -> torch.Tensor:
  """Reference: the whole N x N matrix, soft-argmax flow [B,h,w,2] in cells (float64)."""
  b, c, h, w = src.shape
  a = torch.softmax(torch.einsum("bci,bcj->bij", src.flatten(2), tgt.flatten(2)) / temp, dim=-1)
  ys, xs = torch.meshgrid(torch.arange(h, dtype=a.dtype), torch.arange(w, dtype=a.dtype), indexing="ij")
  grid = torch.stack((xs.flatten(), ys.flatten()), -1)
  return (a @ grid - grid).view(b, h, w, 2)


def _reference_point_flow(src, tgt, points, image_hw, temp, sampling):
  b, c, h, w = src.shape
  img_h, img_w = image_hw
  if sampling == "flow":
    dense = _full_matrix_flow(src, tgt, temp)
    up = F.interpolate(dense.permute(0, 3, 1, 2), size=image_hw, mode="bilinear", align_corners=True)
    up = up * torch.tensor([img_w / w, img_h / h], dtype=up.dtype).view(1, 2, 1, 1)
    return torch.tensor(np.stack([[_index_bilinear_reference(up[i].numpy(), float(px), float(py))
                                   for px, py in points[i]] for i in range(b)]))
  # "feature": bilinear (align_corners, border) sample of the source feature, one full row
  u = torch.stack((points[..., 0] * (w - 1) / (img_w - 1), points[..., 1] * (h - 1) / (img_h - 1)), -1)
  g = torch.stack((u[..., 0] / (w - 1) * 2 - 1, u[..., 1] / (h - 1) * 2 - 1), -1)[:, :, None]  # [B,K,1,2]
  rows = F.grid_sample(src, g, mode="bilinear", padding_mode="border", align_corners=True)[..., 0]  # [B,C,K]
  a = torch.softmax(torch.einsum("bck,bcj->bkj", rows, tgt.flatten(2)) / temp, dim=-1)
  ys, xs = torch.meshgrid(torch.arange(h, dtype=a.dtype), torch.arange(w, dtype=a.dtype), indexing="ij")
  grid = torch.stack((xs.flatten(), ys.flatten()), -1)
  u = torch.stack((u[..., 0].clamp(0, w - 1), u[..., 1].clamp(0, h - 1)), -1)  # off-image: border motion
  return (a @ grid - u) * torch.tensor([img_w / w, img_h / h], dtype=a.dtype)


def _random_case(seed=0, b=2, c=8, h=6, w=9, image_hw=(23, 35)):
  gen = torch.Generator().manual_seed(seed)
  src = torch.randn(b, c, h, w, generator=gen, dtype=torch.float64) * 2
  tgt = torch.randn(b, c, h, w, generator=gen, dtype=torch.float64) * 2
  img_h, img_w = image_hw
  special = torch.tensor([[0.0, 0.0], [img_w - 1.0, img_h - 1.0], [-2.3, 4.5], [img_w + 1.7, -0.6],
                          [12.0, 7.0], [5.5, img_h - 1.25], [17.999, 3.001]], dtype=torch.float64)
  rnd = torch.rand(b, 20, 2, generator=gen, dtype=torch.float64) * torch.tensor([img_w + 4.0, img_h + 4.0]) - 2
  points = torch.cat((special[None].expand(b, -1, -1), rnd), dim=1)
  return src, tgt, points, image_hw


@pytest.mark.parametrize("sampling", ["flow", "feature"])
def test_sparse_point_flow_equals_full_matrix(sampling):
  src, tgt, points, image_hw = _random_case()
  temp = math.sqrt(src.shape[1])
  got = point_flow(src, tgt, points, image_hw, temp, sampling)
  want = _reference_point_flow(src, tgt, points, image_hw, temp, sampling)
  assert torch.allclose(got, want, atol=1e-9, rtol=0), float((got - want).abs().max())


def test_match_equals_full_matrix_forward_backward():
  src, tgt, points, image_hw = _random_case(seed=1, b=1, c=8, h=8, w=8, image_hw=(32, 32))
  model = build_gmrw("tiny")  # only its config (temperature, threshold, stride 8 -> 8x8 cells = 64 px)
  temp = model.config.softmax_temperature
  res = model.match(PairFeatures(src, tgt), points, image_hw=image_hw)
  fwd = _reference_point_flow(src, tgt, points, image_hw, temp, "flow")
  bwd = _reference_point_flow(tgt, src, points + fwd, image_hw, temp, "flow")
  assert torch.allclose(res.forward, points + fwd, atol=1e-9, rtol=0)
  assert torch.allclose(res.backward, points + fwd + bwd, atol=1e-9, rtol=0)
  err = torch.linalg.norm(fwd + bwd, dim=-1)
  assert torch.allclose(res.fb_error, err, atol=1e-9, rtol=0)
  assert torch.equal(res.occluded, ~(err < model.config.fb_threshold_px))


def test_dense_flow_and_summary_equal_full_matrix():
  src, tgt, _, _ = _random_case(seed=2)
  temp = math.sqrt(src.shape[1])
  want = _full_matrix_flow(src, tgt, temp)
  assert torch.allclose(matching.dense_flow(src, tgt, temp, chunk=7), want, atol=1e-10)
  s = transition_summary(src, tgt, temp, chunk=5)
  a = torch.softmax(torch.einsum("bci,bcj->bij", src.flatten(2), tgt.flatten(2)) / temp, dim=-1)
  assert torch.allclose(s.flow, want, atol=1e-10)
  assert torch.equal(s.row_argmax.flatten(1), a.argmax(-1))
  assert torch.allclose(s.col_sum.flatten(1), a.sum(1), atol=1e-10)
  rows = transition_rows_at_cells(src, tgt, torch.tensor([[1, 2], [5, 8]]), temp)
  assert torch.allclose(rows.flatten(2), a[:, [1 * 9 + 2, 5 * 9 + 8]], atol=1e-12)


def test_matcher_never_builds_the_full_matrix(monkeypatch):
  """Rows needed only: at most 9 per point (flow) / 1 (feature), each over N target cells."""
  k, c, h, w = 3, 4, 512, 512  # N = 262144: an N x N float32 matrix would be 256 GiB
  gen = torch.Generator().manual_seed(0)
  src = torch.randn(1, c, h, w, generator=gen)
  tgt = torch.randn(1, c, h, w, generator=gen)
  points = torch.tensor([[[10.3, 20.7], [1000.0, 1500.5], [2047.0, 0.0]]])
  image_hw = (h * 4, w * 4)
  largest = []
  real_matmul, real_softmax = torch.matmul, torch.softmax

  def spy(fn):
    def wrapped(*args, **kwargs):
      out = fn(*args, **kwargs)
      largest.append(out.numel())
      return out
    return wrapped

  monkeypatch.setattr(torch, "matmul", spy(real_matmul))
  monkeypatch.setattr(torch, "softmax", spy(real_softmax))
  for sampling, rows_per_point in (("flow", 9), ("feature", 1)):
    largest.clear()
    flow = point_flow(src, tgt, points, image_hw, math.sqrt(c), sampling)
    assert flow.shape == (1, k, 2) and torch.isfinite(flow).all()
    assert max(largest) <= k * rows_per_point * h * w, (sampling, max(largest))
  model = build_gmrw("tiny")
  largest.clear()
  res = model.match(PairFeatures(src, tgt), points, image_hw=image_hw)
  assert torch.isfinite(res.fb_error).all()
  assert max(largest) <= k * 9 * h * w


def test_pair_transformer_is_symmetric():
  """Backward flows reuse the pair's features: pair(a, b) == reversed pair(b, a)."""
  torch.manual_seed(0)
  model = build_gmrw("small").eval()
  with torch.no_grad():
    feats = model.encode(torch.rand(2, 3, 128, 128) * 255).features
    ab = model.pair(feats[:1], feats[1:])
    ba = model.pair(feats[1:], feats[:1])
  assert torch.allclose(ab.prev, ba.new, atol=1e-5) and torch.allclose(ab.new, ba.prev, atol=1e-5)


def test_online_step_matches_stages():
  torch.manual_seed(0)
  model = build_gmrw("tiny").eval()
  frames = torch.rand(2, 3, 128, 128) * 255
  points = torch.tensor([[[10.0, 20.0], [64.5, 70.25]]])
  with torch.no_grad():
    state = OnlineState(model.encode(frames[:1]).features, points)
    res, new_state = model.step(state, frames[1:])
    direct = model(frames[:1], frames[1:], points)
  assert torch.allclose(res.forward, direct.forward, atol=1e-5)
  assert torch.equal(new_state.points, res.forward)
  assert torch.allclose(new_state.features, model.encode(frames[1:]).features)


def test_shift_mask_matches_swin_regions():
  h, w, s = 16, 24, 2
  wh, ww = h // s, w // s
  img = np.zeros((h, w))
  cnt = 0
  for hs in (slice(0, -wh), slice(-wh, -(wh // 2)), slice(-(wh // 2), None)):
    for ws in (slice(0, -ww), slice(-ww, -(ww // 2)), slice(-(ww // 2), None)):
      img[hs, ws] = cnt
      cnt += 1
  wins = img.reshape(s, wh, s, ww).transpose(0, 2, 1, 3).reshape(s * s, wh * ww)
  want = np.where(wins[:, None, :] != wins[:, :, None], -100.0, 0.0)
  assert np.array_equal(shifted_window_mask(h, w, s).numpy(), want)


def test_track_clip_small_preset():
  torch.manual_seed(0)
  model = build_gmrw("tiny").eval()
  frames = torch.rand(3, 3, 128, 128) * 255
  queries = torch.tensor([[0, 10.0, 20.0], [1, 64.0, 64.0], [2, 100.0, 5.0]])
  with torch.no_grad():
    ct = track_clip(model, frames, queries, with_dense_flows=True)
  assert ct.tracks.shape == (3, 3, 2) and ct.visible.shape == (3, 3) and ct.fb_dist.shape == (2, 3)
  assert ct.forward_flows_feat.shape == (2, 16, 16, 2)
  for i, (t, y, x) in enumerate(queries.tolist()):
    assert ct.tracks[int(t), i].tolist() == [x, y]
    assert bool(ct.visible[int(t), i])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
  torch.backends.cuda.matmul.allow_tf32 = False
  torch.backends.cudnn.allow_tf32 = False
  torch.manual_seed(0)
  model = build_gmrw("small").eval()
  frames = torch.rand(3, 3, 128, 128) * 255
  queries = torch.tensor([[0, 10.0, 20.0], [1, 64.0, 64.0]])
  with torch.no_grad():
    cpu = track_clip(model, frames, queries)
    gpu = track_clip(model.cuda(), frames.cuda(), queries)
  assert torch.allclose(cpu.tracks, gpu.tracks.cpu(), atol=1e-2)
