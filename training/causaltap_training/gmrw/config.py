"""GMRW model configuration and named presets.

`official` reproduces the constructor used by the official evaluation (ayshrv/gmrw,
`test_on_tapvid.get_gmrw_model`): GMRW(feature_channels=128, num_scales=2, num_head=1,
attention_type="swin", ffn_dim_expansion=4, num_transformer_layers=6, norm=False) with the
hard-coded attn_splits=2 and the stride-4 feature branch. Its parameter names equal the official
state_dict keys, so an official checkpoint loads with strict=True.

The small presets keep the same module layout (so the same code, key scheme and ONNX stages) with
fewer channels / blocks and a stride-8 feature grid, to run on a 2-core CPU.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Dict, Optional, Tuple, Union


@dataclass(frozen=True)
class GMRWConfig:
  """Hyper-parameters of a GMRW network.

  Attributes:
    feature_channels: C, channels of the CNN output, the transformer and the transition matrix.
    cnn_dims: channels of the three residual stages (layer1, layer2, layer3) of the CNN.
    num_scales: trident branches of the CNN head. 1: no trident conv, layer3 has stride 2 and the
      features are at stride 8. >=2: layer3 has stride 1, a shared 3x3 "trident" conv is applied and
      only its stride-1 branch is used (features at stride 4); the coarser branches, which the
      official model computes and discards, are only computed on request.
    num_transformer_layers: number of blocks (self-attention layer + cross-attention/FFN layer).
      Blocks 1, 3, 5, ... use shifted windows.
    ffn_dim_expansion: the FFN hidden width is 2*C*ffn_dim_expansion (its input is [source, message]).
    attn_splits: the feature map is split into attn_splits x attn_splits attention windows; the
      sine position encoding is computed on one window and tiled.
    norm: True: (pixel/255 - mean)/std (training-time preprocessing). False: (pixel - mean)/std, the
      official evaluation quirk (pixels are not divided by 255).
    temperature: transition softmax temperature; None means sqrt(feature_channels) (official temp=0).
    fb_threshold_px: forward-backward error (model pixels; 3 px at 256x256) from which a point is occluded.
  """
  feature_channels: int = 128
  cnn_dims: Tuple[int, int, int] = (64, 96, 128)
  num_scales: int = 2
  num_transformer_layers: int = 6
  ffn_dim_expansion: int = 4
  attn_splits: int = 2
  norm: bool = False
  temperature: Optional[float] = None
  fb_threshold_px: float = 3.0

  @property
  def feature_stride(self) -> int:
    """Image pixels per feature cell: 4 with the trident head, 8 without."""
    return 4 if self.num_scales > 1 else 8

  @property
  def softmax_temperature(self) -> float:
    return math.sqrt(self.feature_channels) if self.temperature is None else float(self.temperature)

  def replace(self, **changes) -> "GMRWConfig":
    return dataclasses.replace(self, **changes)


PRESETS: Dict[str, GMRWConfig] = {
    # The official evaluation constructor (fixture constructor); loads official checkpoints strictly.
    "official": GMRWConfig(),
    # CPU presets: same layout and code, stride-8 feature grid (32x32 at 256^2), fewer channels/blocks,
    # training-time preprocessing (p/255). Random-init; to be trained / distilled.
    "small": GMRWConfig(feature_channels=64, cnn_dims=(32, 48, 64), num_scales=1,
                        num_transformer_layers=4, ffn_dim_expansion=2, attn_splits=2, norm=True),
    "tiny": GMRWConfig(feature_channels=32, cnn_dims=(16, 24, 32), num_scales=1,
                       num_transformer_layers=2, ffn_dim_expansion=2, attn_splits=4, norm=True),
    # The engine's CPU budget (<= 10 ms per frame for gmrw_encoder + gmrw_match at 256 points, 1 thread, so the
    # fused engine keeps >= 30 fps next to the TAPIR `cpu` preset): 8-channel stem stage (the 128x128 layer1
    # blocks dominate the CNN), one transformer block (self + cross attention, no shifted windows), FFN width
    # 2*C; export it with sampling="feature" (one transition row per point). ORT CPU ms, 1 thread, 256 points:
    # encoder 4.3 + match 2.7 (tiny: 7.7 + 13.1 with flow sampling). See train/README.md "GMRW".
    "cpu": GMRWConfig(feature_channels=32, cnn_dims=(8, 16, 32), num_scales=1,
                      num_transformer_layers=1, ffn_dim_expansion=1, attn_splits=4, norm=True),
}


def get_config(preset: Union[str, GMRWConfig], **overrides) -> GMRWConfig:
  """A preset by name (or a config), with field overrides."""
  if isinstance(preset, GMRWConfig):
    cfg = preset
  else:
    if preset not in PRESETS:
      raise KeyError(f"unknown GMRW preset {preset!r}; known: {sorted(PRESETS)}")
    cfg = PRESETS[preset]
  return cfg.replace(**overrides) if overrides else cfg
