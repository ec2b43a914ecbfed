"""Causal state of the PIPs mixer: layout, initialisation, row resets, packing, official-layout conversion.

Rows are point slots (the first axis), so the engine keeps one contiguous buffer per stream and adding a point
only zeroes its row. The state holds mixer activations, never frames.
"""
from __future__ import annotations

from typing import Dict, List, NamedTuple, Sequence, Union

import torch

from .config import TapirConfig


class CausalState(NamedTuple):
    """Cached inputs of the two causal temporal convs of every mixer block, per point and iteration.

    Attributes:
      conv1: [N, iters, blocks, k-1, D] the last k-1 `LayerNorm(x)` inputs of the first depthwise conv
        (`mlp1_up`), oldest first. BootsTAPIR: [N, 4, 12, 2, 512].
      conv2: [N, iters, blocks, k-1, m*D] the matching GELU outputs that feed the second conv (`mlp1_up_1`).
        BootsTAPIR: [N, 4, 12, 2, 2048].
    All zeros is the state before the first frame (it reproduces zero left-padding).
    """

    conv1: torch.Tensor
    conv2: torch.Tensor


def initial_state(config: TapirConfig, num_points: int, device=None,
                  dtype: torch.dtype = torch.float32) -> CausalState:
    """All-zero state for `num_points` points (a fresh tensor per field; nothing is shared)."""
    lead = (num_points, config.num_pips_iter, config.num_mixer_blocks, config.state_steps)
    d = config.mixer_hidden_dim
    return CausalState(torch.zeros(*lead, d, device=device, dtype=dtype),
                       torch.zeros(*lead, d * config.mixer_expansion, device=device, dtype=dtype))


def reset_rows(state: CausalState, rows: Union[Sequence[int], torch.Tensor]) -> CausalState:
    """A copy of `state` with the rows of (re)added points zeroed; the other rows are untouched."""
    rows = torch.as_tensor(rows, dtype=torch.long, device=state.conv1.device)
    return CausalState(state.conv1.index_fill(0, rows, 0.0), state.conv2.index_fill(0, rows, 0.0))


def select_rows(state: CausalState, rows: Union[Sequence[int], torch.Tensor]) -> CausalState:
    """The state of a subset of points (e.g. when points are removed)."""
    rows = torch.as_tensor(rows, dtype=torch.long, device=state.conv1.device)
    return CausalState(state.conv1.index_select(0, rows), state.conv2.index_select(0, rows))


def concat_rows(a: CausalState, b: CausalState) -> CausalState:
    """Points of `a` followed by points of `b`."""
    return CausalState(torch.cat([a.conv1, b.conv1], 0), torch.cat([a.conv2, b.conv2], 0))


def pack(state: CausalState) -> torch.Tensor:
    """One contiguous [N, state_floats_per_point] buffer (conv1 then conv2 per row)."""
    n = state.conv1.shape[0]
    return torch.cat([state.conv1.reshape(n, -1), state.conv2.reshape(n, -1)], dim=1)


def unpack(buffer: torch.Tensor, config: TapirConfig) -> CausalState:
    """Inverse of `pack`."""
    n = buffer.shape[0]
    lead = (n, config.num_pips_iter, config.num_mixer_blocks, config.state_steps)
    d = config.mixer_hidden_dim
    split = config.num_pips_iter * config.num_mixer_blocks * config.state_steps * d
    return CausalState(buffer[:, :split].reshape(*lead, d),
                       buffer[:, split:].reshape(*lead, d * config.mixer_expansion))


def to_official(state: CausalState) -> List[Dict[str, torch.Tensor]]:
    """The tapnet torch layout: one dict per iteration, `block_{b}_causal_{1,2}` of shape [1, N, k-1, C]."""
    out = []
    for it in range(state.conv1.shape[1]):
        d = {}
        for b in range(state.conv1.shape[2]):
            d[f"block_{b}_causal_1"] = state.conv1[:, it, b].unsqueeze(0)
            d[f"block_{b}_causal_2"] = state.conv2[:, it, b].unsqueeze(0)
        out.append(d)
    return out


def from_official(dicts: Sequence[Dict[str, torch.Tensor]]) -> CausalState:
    """Inverse of `to_official` (batch 1)."""
    blocks = len(dicts[0]) // 2
    conv1 = torch.stack([torch.stack([d[f"block_{b}_causal_1"][0] for b in range(blocks)], 1) for d in dicts], 1)
    conv2 = torch.stack([torch.stack([d[f"block_{b}_causal_2"][0] for b in range(blocks)], 1) for d in dicts], 1)
    return CausalState(conv1, conv2)
