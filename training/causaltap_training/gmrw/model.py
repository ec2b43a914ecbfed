"""GMRW: GMFlow-style encoder + pair transformer + sparse transition-matrix matcher.

Stages (mirroring the ONNX graphs the server runs):
  encode(frames)            -> FrameFeatures    per frame, run once (CNN only, before the position encoding)
  pair(prev, new)           -> PairFeatures     position encoding + joint transformer of a frame pair
  match(pair, points)       -> MatchResult      forward / backward soft-argmax positions, fb error, occlusion
Online, a stream keeps the previous frame's FrameFeatures and its points (OnlineState); `step`
runs encode -> pair -> match for one new frame and returns the new state.

Inputs are RGB float frames in [0, 255] (official convention), [B,3,H,W]; normalisation happens
inside (`config.norm`). Points are (x, y) model pixels, integer = pixel centre (official GMRW).
"""
from __future__ import annotations

from typing import Mapping, NamedTuple, Optional, Sequence, Union

import torch
from torch import nn

from .backbone import CNNEncoder
from .config import GMRWConfig, get_config
from .matching import point_flow
from .transformer import FeatureTransformer, windowed_position_encoding

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class FrameFeatures(NamedTuple):
  """CNN features (stride-4 trident branch, or stride 8 without trident), no position encoding.

  features: [B, C, H/stride, W/stride] float32.
  """
  features: torch.Tensor


class PairFeatures(NamedTuple):
  """Transformer outputs of a frame pair (each frame attended with the other).

  prev: [B, C, h, w] features of the earlier frame.
  new:  [B, C, h, w] features of the later frame.
  The transformer is symmetric in the pair, so (new, prev) are also the features of the reversed pair.
  """
  prev: torch.Tensor
  new: torch.Tensor


class MatchResult(NamedTuple):
  """Sparse matcher output for K points of the previous frame.

  forward:  [B, K, 2] (x, y) pixels in the new frame: points + flow_prev->new(points).
  backward: [B, K, 2] (x, y) pixels back in the previous frame: forward + flow_new->prev(forward).
  fb_error: [B, K] |flow_prev->new(points) + flow_new->prev(forward)| in pixels (= |backward - points|).
  occluded: [B, K] bool, not (fb_error < config.fb_threshold_px).
  """
  forward: torch.Tensor
  backward: torch.Tensor
  fb_error: torch.Tensor
  occluded: torch.Tensor


class OnlineState(NamedTuple):
  """What a stream carries between frames (no frames, no transformer features).

  features: FrameFeatures of the last frame, [B, C, h, w].
  points:   [B, K, 2] (x, y) current positions in the last frame.
  """
  features: torch.Tensor
  points: torch.Tensor


class GMRW(nn.Module):
  """GMRW network; parameter names are the official state_dict keys (`backbone.*`, `transformer.*`)."""

  def __init__(self, config: Union[str, GMRWConfig] = "official"):
    super().__init__()
    self.config = get_config(config)
    cfg = self.config
    self.backbone = CNNEncoder(cfg.feature_channels, cfg.cnn_dims, cfg.num_scales)
    self.transformer = FeatureTransformer(cfg.num_transformer_layers, cfg.feature_channels, cfg.ffn_dim_expansion)
    self.register_buffer("pixel_mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
    self.register_buffer("pixel_std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

  # ---- stage 1: per frame ----
  def normalize(self, frames: torch.Tensor) -> torch.Tensor:
    """[B,3,H,W] RGB in [0,255] -> (p/div - mean)/std, div = 255 if config.norm else 1 (official quirk)."""
    div = 255.0 if self.config.norm else 1.0
    return (frames / div - self.pixel_mean) / self.pixel_std

  def encode(self, frames: torch.Tensor) -> FrameFeatures:
    """frames [B,3,H,W] RGB float in [0,255] -> FrameFeatures [B,C,H/stride,W/stride]."""
    return FrameFeatures(self.backbone(self.normalize(frames))[0])

  # ---- stage 2: per frame pair ----
  def position_encoding(self, h: int, w: int, device=None) -> torch.Tensor:
    """[C,h,w] the encoding added to both frames (sine PE of one attention window, tiled)."""
    return windowed_position_encoding(self.config.feature_channels, h, w, self.config.attn_splits, device)

  def pair(self, prev: Union[FrameFeatures, torch.Tensor], new: Union[FrameFeatures, torch.Tensor]) -> PairFeatures:
    """CNN features of two frames [B,C,h,w] -> their transformer features."""
    f0 = prev.features if isinstance(prev, FrameFeatures) else prev
    f1 = new.features if isinstance(new, FrameFeatures) else new
    h, w = f0.shape[-2:]
    splits = self.config.attn_splits
    if h % splits or w % splits:
      raise ValueError(f"feature grid {h}x{w} is not divisible by attn_splits={splits}")
    pe = self.position_encoding(h, w, f0.device).to(f0.dtype)
    out0, out1 = self.transformer(f0 + pe, f1 + pe, splits)
    return PairFeatures(out0, out1)

  # ---- stage 3: sparse matcher ----
  def image_hw(self, feature_hw: Sequence[int]):
    s = self.config.feature_stride
    return (int(feature_hw[0]) * s, int(feature_hw[1]) * s)

  def match(self, pair: PairFeatures, points: torch.Tensor, sampling: str = "flow",
            image_hw: Optional[Sequence[int]] = None) -> MatchResult:
    """Forward/backward soft-argmax of K points without the N x N matrix.

    Args:
      pair: transformer features of (previous frame, new frame).
      points: [B,K,2] (x, y) model pixels in the previous frame.
      sampling: "flow" (official convention, exact) or "feature" (one row per point), see
        matching.point_flow.
      image_hw: model image size; default feature size x feature stride.
    """
    image_hw = self.image_hw(pair.prev.shape[-2:]) if image_hw is None else image_hw
    temp = self.config.softmax_temperature
    fwd = point_flow(pair.prev, pair.new, points, image_hw, temp, sampling)
    new_points = points + fwd
    bwd = point_flow(pair.new, pair.prev, new_points, image_hw, temp, sampling)
    fb_error = torch.linalg.norm(fwd + bwd, dim=-1)
    occluded = ~(fb_error < self.config.fb_threshold_px)
    return MatchResult(new_points, new_points + bwd, fb_error, occluded)

  def step(self, state: OnlineState, frame: torch.Tensor, sampling: str = "flow"):
    """One online step: (state, new frame [B,3,H,W] in [0,255]) -> (MatchResult, new OnlineState)."""
    new = self.encode(frame)
    result = self.match(self.pair(state.features, new), state.points, sampling)
    return result, OnlineState(new.features, result.forward)

  def forward(self, frame_prev: torch.Tensor, frame_new: torch.Tensor, points: torch.Tensor,
              sampling: str = "flow") -> MatchResult:
    """Convenience: two frames [B,3,H,W] in [0,255] and points [B,K,2] -> MatchResult."""
    feats = self.encode(torch.cat((frame_prev, frame_new), dim=0)).features
    b = frame_prev.shape[0]
    return self.match(self.pair(feats[:b], feats[b:]), points, sampling)


def build_gmrw(preset: Union[str, GMRWConfig] = "official", **overrides) -> GMRW:
  """A GMRW for a preset name or config (fields overridable)."""
  return GMRW(get_config(preset, **overrides))


def official_state_dict(checkpoint: Union[str, Mapping]) -> Mapping[str, torch.Tensor]:
  """The model state_dict of an official GMRW checkpoint (file path or loaded object).

  Accepts {"model": state_dict, ...} (official save format) or a bare state_dict; strips the
  DistributedDataParallel "module." prefix. Loading a path unpickles it: trusted files only.
  """
  if isinstance(checkpoint, str):
    try:
      checkpoint = torch.load(checkpoint, map_location="cpu", weights_only=False)
    except TypeError:  # torch < 1.13 has no weights_only
      checkpoint = torch.load(checkpoint, map_location="cpu")
  sd = checkpoint.get("model", checkpoint) if isinstance(checkpoint, Mapping) else checkpoint
  return {(k[len("module."):] if k.startswith("module.") else k): v for k, v in sd.items()}


def load_official(checkpoint: Union[str, Mapping], config: Union[str, GMRWConfig] = "official") -> GMRW:
  """An official-preset GMRW with an official checkpoint loaded (strict=True)."""
  model = build_gmrw(config)
  model.load_state_dict(official_state_dict(checkpoint), strict=True)
  return model.eval()
