"""A TAPIR-family tracker whose encoder is the frozen pretrained XFeat backbone (backbones/xfeat.py).

  model = XFeatTapir(xfeat_config(resolution=(320, 320)), pretrained_dir() / "xfeat.onnx")

Same stages and graph contract as `Tapir` (encoder / query / step); only `encode` differs:
lowres = XFeat descriptors [1, 64, H/8, W/8], hires = the same descriptors bilinearly upsampled to
[1, 64, H/4, W/4], both L2-normalised (backbones/README.md: the intermediate XFeat maps match far worse; the
upsampled descriptors match slightly better than the 1/8 ones). The backbone is frozen (no gradient, eval mode)
so its features can be cached per clip. Weights derived from xfeat.onnx: Apache-2.0, say so in the card.

The stage-1 heat-map head starts as a pass-through of the cost volume (`init_cost_passthrough`): with PyTorch's
default random init, `hid2(relu(hid1(cost)))` is as likely to invert the cost as to keep it, and its zero
padding makes a corner the argmax, so stage 1 starts ~250 px off. The stage-1 loss only reaches the cells inside
the soft-argmax window around that argmax, and a frozen backbone cannot reshape the cost to compensate, so such
a run stays stuck (issue 14: synthetic val AJ 0.0 at step 100, while the same heads started as pass-through
place stage 1 where nearest-neighbour matching of the descriptors does).
Prototype: not yet in PRESETS, not trained, not timed as a whole frame.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from ..backbones.xfeat import FrozenXFeatBackbone, upsample_to
from .config import CPU, TapirConfig
from .cost_volume import CostVolumeHead
from .model import FeatureGrids, Tapir
from .sampling import l2_normalize_channels


def xfeat_config(**overrides) -> TapirConfig:
    """The `cpu` preset's heads on 64-channel XFeat grids (channels[1] = hires, channels[3] = lowres dims)."""
    base = dataclasses.replace(CPU, name="xfeat_cpu", channels=(8, 64, 64, 64))
    return dataclasses.replace(base, **overrides) if overrides else base


def init_cost_passthrough(head: CostVolumeHead) -> None:
    """heat-map logits = relu(cost) at init: hid1 channel 0 and hid2 become centre-tap identities.

    The other hid1 channels keep their random init (the occlusion branch reads them) and their hid2 weights
    start at zero, so they still get gradients and can learn without disturbing the initial argmax.
    """
    with torch.no_grad():
        c = head.hid1.weight.shape[2] // 2
        head.hid1.weight[0].zero_()
        head.hid1.weight[0, 0, c, c] = 1.0
        head.hid1.bias[0] = 0.0
        head.hid2.weight.zero_()
        head.hid2.weight[0, 0, c, c] = 1.0
        head.hid2.bias.zero_()


class XFeatTapir(Tapir):
    def __init__(self, config: TapirConfig, xfeat_onnx: Path) -> None:
        super().__init__(config)
        init_cost_passthrough(self.torch_cost_volume_track_mods)
        self.resnet_torch = None  # the trained-from-scratch ResNet is replaced by XFeat
        self.xfeat = FrozenXFeatBackbone.from_onnx(xfeat_onnx)

    def encode(self, frames: torch.Tensor) -> FeatureGrids:
        with torch.no_grad():
            desc = self.xfeat(frames).descriptors
        h, w = self.config.resolution
        hires = upsample_to(desc, h // 4, w // 4)
        return FeatureGrids(l2_normalize_channels(desc, 1), l2_normalize_channels(hires, 1))
