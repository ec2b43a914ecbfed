"""Per-frame feature extractor: pre-activation ResNet (InstanceNorm, no max-pool) + BootsTAPIR ExtraConvs.

Attribute names equal the official checkpoint keys (`resnet_torch.block_groups.{g}.blocks.{b}.conv_0`, ...,
`extra_convs.blocks.{i}.layer_norm`, ...), so official state_dicts load with strict=True.
"""
from __future__ import annotations

from typing import NamedTuple, Sequence, Tuple

import torch
from torch import nn

from .layers import LayerNorm, gelu_tanh, pad_same_2d


class BackboneOutput(NamedTuple):
    """Raw (un-normalised) backbone activations, NCHW.

    Attributes:
      initial_conv: [B, C0, H/s, W/s] stem output (s = stem stride).
      units: one tensor per block group, `units[g]` is [B, channels[g], H/stride_g, W/stride_g]; for the
        official backbone at 256x256: [64,128,128], [128,64,64], [256,32,32], [256,32,32].
    """

    initial_conv: torch.Tensor
    units: Tuple[torch.Tensor, ...]


class BlockV2(nn.Module):
    """Pre-activation residual block: IN -> ReLU -> (projection shortcut, conv_0/s) -> IN -> ReLU -> conv_1.

    The projection shortcut (1x1/s, only on the first block of a group) reads the activated input; without a
    projection the shortcut is the raw input. Stride-2 convs use JAX "SAME" (asymmetric) padding.
    """

    def __init__(self, channels_in: int, channels_out: int, stride: int, use_projection: bool) -> None:
        super().__init__()
        self.stride = stride
        if use_projection:
            self.proj_conv = nn.Conv2d(channels_in, channels_out, 1, stride=stride, padding=0, bias=False)
        else:
            self.proj_conv = None
        self.bn_0 = nn.InstanceNorm2d(channels_in, eps=1e-5, affine=True, track_running_stats=False)
        self.conv_0 = nn.Conv2d(channels_in, channels_out, 3, stride=stride, padding=0, bias=False)
        self.conv_1 = nn.Conv2d(channels_out, channels_out, 3, stride=1, padding=1, bias=False)
        self.bn_1 = nn.InstanceNorm2d(channels_out, eps=1e-5, affine=True, track_running_stats=False)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.bn_0(inputs))
        shortcut = self.proj_conv(x) if self.proj_conv is not None else inputs
        x = self.conv_0(pad_same_2d(x, 3, self.stride))
        x = torch.relu(self.bn_1(x))
        return self.conv_1(x) + shortcut


class BlockGroup(nn.Module):
    """`num_blocks` BlockV2; the first one strides and projects."""

    def __init__(self, channels_in: int, channels_out: int, num_blocks: int, stride: int) -> None:
        super().__init__()
        self.blocks = nn.ModuleList([
            BlockV2(channels_in if i == 0 else channels_out, channels_out,
                    stride=stride if i == 0 else 1, use_projection=(i == 0))
            for i in range(num_blocks)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return x


class ResNet(nn.Module):
    """Stem conv (k x k / s, JAX "SAME", no bias) then 4 block groups. No max-pool, no final norm."""

    def __init__(self, channels: Sequence[int], strides: Sequence[int], blocks_per_group: Sequence[int],
                 stem_kernel: int = 7, stem_stride: int = 2) -> None:
        super().__init__()
        if not (len(channels) == len(strides) == len(blocks_per_group)):
            raise ValueError("channels, strides and blocks_per_group must have the same length")
        self.stem_kernel = stem_kernel
        self.stem_stride = stem_stride
        self.initial_conv = nn.Conv2d(3, channels[0], stem_kernel, stride=stem_stride, padding=0, bias=False)
        self.block_groups = nn.ModuleList([
            BlockGroup(channels[g - 1] if g > 0 else channels[0], channels[g], blocks_per_group[g], strides[g])
            for g in range(len(channels))])

    def forward(self, frames: torch.Tensor) -> BackboneOutput:
        """frames [B, 3, H, W] in [-1, 1] -> BackboneOutput."""
        x = self.initial_conv(pad_same_2d(frames, self.stem_kernel, self.stem_stride))
        stem = x
        units = []
        for group in self.block_groups:
            x = group(x)
            units.append(x)
        return BackboneOutput(stem, tuple(units))


class ExtraConvBlock(nn.Module):
    """BootsTAPIR block: y = LN(x) (with bias); out = y + conv_1(GELU(conv(y))). The skip starts at LN(x)."""

    def __init__(self, dim: int, multiplier: int) -> None:
        super().__init__()
        self.layer_norm = LayerNorm(dim, bias=True)
        self.conv = nn.Conv2d(dim, dim * multiplier, 3, stride=1, padding=1)
        self.conv_1 = nn.Conv2d(dim * multiplier, dim, 3, stride=1, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x [B, C, h, w] -> [B, C, h, w]."""
        y = self.layer_norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        return y + self.conv_1(gelu_tanh(self.conv(y)))


class ExtraConvs(nn.Module):
    """A stack of ExtraConvBlock on the low-res grid."""

    def __init__(self, num_blocks: int, dim: int, multiplier: int) -> None:
        super().__init__()
        self.blocks = nn.ModuleList([ExtraConvBlock(dim, multiplier) for _ in range(num_blocks)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return x
