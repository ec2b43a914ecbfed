"""GMFlow-style CNN encoder (the GMRW backbone).

Stem 7x7/2 conv -> InstanceNorm -> ReLU, three stages of two residual blocks (strides 1, 2 and
1 or 2), a 1x1 projection and, with num_scales > 1, a shared-weight 3x3 "trident" conv.
InstanceNorms are non-affine without running statistics, so they have no state_dict entries.
Attribute names equal the official state_dict keys (`backbone.layer2.0.downsample.0.weight`, ...).
"""
from __future__ import annotations

from typing import List, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn


class ResidualBlock(nn.Module):
  """relu(shortcut(x) + relu(IN(conv2(relu(IN(conv1(x))))))).

  The shortcut is identity, or IN(conv1x1 with bias) when the stride or the width changes.
  """

  def __init__(self, in_planes: int, planes: int, stride: int = 1):
    super().__init__()
    self.conv1 = nn.Conv2d(in_planes, planes, kernel_size=3, stride=stride, padding=1, bias=False)
    self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=1, padding=1, bias=False)
    self.norm1 = nn.InstanceNorm2d(planes)
    self.norm2 = nn.InstanceNorm2d(planes)
    if stride != 1 or in_planes != planes:
      self.downsample = nn.Sequential(
          nn.Conv2d(in_planes, planes, kernel_size=1, stride=stride, bias=True),
          nn.InstanceNorm2d(planes))
    else:
      self.downsample = None

  def forward(self, x: torch.Tensor) -> torch.Tensor:
    y = F.relu(self.norm1(self.conv1(x)))
    y = F.relu(self.norm2(self.conv2(y)))
    shortcut = x if self.downsample is None else self.downsample(x)
    return F.relu(shortcut + y)


class TridentConv(nn.Module):
  """One 3x3 kernel (no bias) applied at several strides (padding 1). Key: `trident_conv.weight`."""

  def __init__(self, channels: int, strides: Sequence[int]):
    super().__init__()
    self.strides = tuple(int(s) for s in strides)
    self.weight = nn.Parameter(torch.empty(channels, channels, 3, 3))
    nn.init.kaiming_normal_(self.weight, mode="fan_out", nonlinearity="relu")

  def forward(self, x: torch.Tensor, num_branches: int = 1) -> List[torch.Tensor]:
    """Branches from high to low resolution; only the first `num_branches` are computed."""
    return [F.conv2d(x, self.weight, None, stride=s, padding=1) for s in self.strides[:num_branches]]


def _trident_strides(num_scales: int) -> Tuple[int, ...]:
  return tuple(2 ** i for i in range(num_scales))


class CNNEncoder(nn.Module):
  """Frames [B,3,H,W] (already normalised) -> features [B,C,H/s,W/s], s = 4 (num_scales>1) or 8."""

  def __init__(self, output_dim: int = 128, dims: Sequence[int] = (64, 96, 128), num_scales: int = 2):
    super().__init__()
    d0, d1, d2 = dims
    self.num_scales = num_scales
    self.conv1 = nn.Conv2d(3, d0, kernel_size=7, stride=2, padding=3, bias=False)  # 1/2
    self.norm1 = nn.InstanceNorm2d(d0)
    self.layer1 = nn.Sequential(ResidualBlock(d0, d0, 1), ResidualBlock(d0, d0, 1))  # 1/2
    self.layer2 = nn.Sequential(ResidualBlock(d0, d1, 2), ResidualBlock(d1, d1, 1))  # 1/4
    stride3 = 1 if num_scales > 1 else 2
    self.layer3 = nn.Sequential(ResidualBlock(d1, d2, stride3), ResidualBlock(d2, d2, 1))  # 1/4 or 1/8
    self.conv2 = nn.Conv2d(d2, output_dim, kernel_size=1, bias=True)
    if num_scales > 1:
      self.trident_conv = TridentConv(output_dim, _trident_strides(num_scales))
    else:
      self.trident_conv = None
    for m in self.modules():
      if isinstance(m, nn.Conv2d):
        nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

  def forward(self, x: torch.Tensor, num_branches: int = 1) -> List[torch.Tensor]:
    """Returns feature maps from high to low resolution; [0] is the one GMRW uses.

    num_branches > 1 also computes the coarser trident branches (the official model computes and
    discards them); ignored without a trident conv.
    """
    x = F.relu(self.norm1(self.conv1(x)))
    x = self.layer3(self.layer2(self.layer1(x)))
    x = self.conv2(x)
    if self.trident_conv is None:
      return [x]
    return self.trident_conv(x, num_branches)
