"""Stage 1: global cost-volume initialisation (position heat map + occlusion / expected-distance head).

Names equal the official checkpoint keys (`torch_cost_volume_track_mods.hid1`, ..., `occ_out`).
"""
from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from .layers import pad_same_2d


class CostVolumeOutput(NamedTuple):
    """Stage-1 result for P cost volumes (one per point and frame).

    Attributes:
      heatmap_logits: [P, h, w] output of `hid2`, before the temperature and the softmax.
      occlusion: [P] occlusion logit (higher = occluded).
      expected_dist: [P] expected-distance (uncertainty) logit.
    """

    heatmap_logits: torch.Tensor
    occlusion: torch.Tensor
    expected_dist: torch.Tensor


class CostVolumeHead(nn.Module):
    """conv3x3 1->H, ReLU; (a) conv3x3 H->1 = heat-map logits; (b) conv3x3/2 H->C2 (JAX SAME), ReLU, spatial
    mean, Linear C2->M, ReLU, Linear M->2 = (occlusion, expected distance) logits."""

    def __init__(self, hidden: int, occ_channels: int, occ_hidden: int) -> None:
        super().__init__()
        self.hid1 = nn.Conv2d(1, hidden, 3, stride=1, padding=1)
        self.hid2 = nn.Conv2d(hidden, 1, 3, stride=1, padding=1)
        self.hid3 = nn.Conv2d(hidden, occ_channels, 3, stride=2, padding=0)
        self.hid4 = nn.Linear(occ_channels, occ_hidden)
        self.occ_out = nn.Linear(occ_hidden, 2)

    def forward(self, cost_volume: torch.Tensor) -> CostVolumeOutput:
        """cost_volume [P, h, w] (query feature . low-res grid) -> CostVolumeOutput."""
        hidden = torch.relu(self.hid1(cost_volume.unsqueeze(1)))
        logits = self.hid2(hidden)[:, 0]
        occ = torch.relu(self.hid3(pad_same_2d(hidden, 3, 2)))
        occ = torch.relu(self.hid4(torch.mean(occ, dim=(-1, -2))))
        occ = self.occ_out(occ)
        return CostVolumeOutput(logits, occ[:, 0], occ[:, 1])
