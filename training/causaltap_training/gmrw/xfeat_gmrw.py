"""GMRW on the frozen pretrained XFeat backbone (`backbones/xfeat.py`): the random walk starts from matchable features.

  model = XFeatGMRW()                      # preset "xfeat": 64 channels, stride 8, one transformer block
  feats = model.encode(frames_0_255)       # scale * L2-normalised XFeat descriptors [B,64,H/8,W/8]

Same stages, graphs and matcher as `GMRW` (encode / pair / match); only the CNN differs. The GMRW CNN trained here
from scratch stayed unusable (walk accuracy 4 %, DAVIS AJ 0.2 after 517 CPU steps), while XFeat's descriptors
already match by nearest neighbour (backbones/README.md). So:

- the backbone is XFeat, frozen (no gradient, eval mode; weights from ../shared/pretrained/xfeat.onnx, Apache-2.0:
  say so in the card and ship the licence);
- its descriptors are L2-normalised and multiplied by one learned scale, so the transition softmax
  (logits = f_a . f_b / sqrt(C)) starts as a cosine similarity with temperature `scale^2 / sqrt(C)`;
- the pair transformer's residual messages start at zero (`zero_transformer_messages`), so the
  untrained model is the nearest-neighbour walk of XFeat plus GMRW's position encoding, and training on the
  contrastive random walk only has to learn what to add.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Optional

import torch
from torch import nn

from ..backbones.xfeat import FrozenXFeatBackbone, pretrained_dir
from ..tapir.sampling import l2_normalize_channels
from .config import PRESETS, GMRWConfig
from .model import GMRW, FrameFeatures

# 64 channels = XFeat's descriptors; stride 8 (num_scales=1); one self + cross attention block over 4x4 windows.
XFEAT_PRESET = GMRWConfig(feature_channels=64, cnn_dims=(8, 16, 64), num_scales=1, num_transformer_layers=1,
                          ffn_dim_expansion=1, attn_splits=4, norm=True)
PRESETS.setdefault("xfeat", XFEAT_PRESET)

# Initial softmax temperature on the cosine similarity: logits = 30 cos (the zero-training XFeat measurements use a
# soft-argmax temperature of 20 on cosines; the walk wants a slightly sharper transition).
INITIAL_COSINE_TEMPERATURE = 30.0


class XFeatGMRW(GMRW):
    def __init__(self, config: GMRWConfig = XFEAT_PRESET, xfeat_onnx: Optional[Path] = None) -> None:
        super().__init__(config)
        if config.feature_channels != 64 or config.feature_stride != 8:
            raise ValueError("XFeat descriptors are 64 channels at stride 8 (num_scales=1)")
        self.backbone = None  # GMRW's CNN is replaced by XFeat
        path = xfeat_onnx or (pretrained_dir() / "xfeat.onnx" if pretrained_dir() else None)
        if path is None or not Path(path).exists():
            raise FileNotFoundError("XFeatGMRW needs ../shared/pretrained/xfeat.onnx (or pass xfeat_onnx)")
        self.xfeat = FrozenXFeatBackbone.from_onnx(Path(path))
        scale = math.sqrt(INITIAL_COSINE_TEMPERATURE * math.sqrt(config.feature_channels))
        self.log_feature_scale = nn.Parameter(torch.tensor(math.log(scale)))
        zero_transformer_messages(self)

    def encode(self, frames: torch.Tensor) -> FrameFeatures:
        """frames [B,3,H,W] RGB in [0,255] -> scale * normalised XFeat descriptors [B,64,H/8,W/8]."""
        with torch.no_grad():
            desc = self.xfeat(frames / 127.5 - 1.0).descriptors
        return FrameFeatures(l2_normalize_channels(desc, 1) * self.log_feature_scale.exp())


def zero_transformer_messages(model: GMRW) -> None:
    """Every transformer layer's residual message starts at 0, so the layers are identities at init.

    The last LayerNorm of each message gets a zero gain (its bias is already 0): the message is LN(...) * 0, and the
    gain's gradient is the normalised message itself. (Zeroing the projection before the LayerNorm instead would
    feed it a zero vector, where its gradient is 1/sqrt(eps).)
    """
    with torch.no_grad():
        for layer in model.transformer.layers:
            for sub in (layer.self_attn, layer.cross_attn_ffn):
                last_norm = sub.norm2 if sub.with_ffn else sub.norm1
                last_norm.weight.zero_()
                last_norm.bias.zero_()


def build(preset: str, **kwargs) -> GMRW:
    """The GMRW for a preset name: XFeatGMRW for "xfeat", else the plain GMRW."""
    if preset == "xfeat":
        return XFeatGMRW(**kwargs)
    return GMRW(preset)
