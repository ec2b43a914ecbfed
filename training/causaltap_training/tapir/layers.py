"""Small building blocks shared by the TAPIR modules (no state, no hidden buffers)."""
from __future__ import annotations

import math
from typing import Tuple

import torch
import torch.nn.functional as F
from torch import nn


class LayerNorm(nn.Module):
    """LayerNorm over the last dim with an optional bias.

    `nn.LayerNorm(bias=False)` needs torch >= 2.1; this keeps the same parameter names (`weight`, `bias`)
    and math on torch 1.13.
    """

    def __init__(self, dim: int, bias: bool = True, eps: float = 1e-5) -> None:
        super().__init__()
        self.dim = dim
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(x, (self.dim,), self.weight, self.bias, self.eps)


def jax_same_padding(size: int, kernel: int, stride: int) -> Tuple[int, int]:
    """(before, after) padding of one axis for JAX/XLA "SAME": output ceil(size/stride), the odd pixel after.

    For a 7x7/2 conv on an even axis this is (2, 3), for a 3x3/2 conv (0, 1). (The official torch port pads
    (2, 4) and (0, 2); the extra trailing row is never read by the kernel, so the results are identical.)
    """
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def pad_same_2d(x: torch.Tensor, kernel: int, stride: int) -> torch.Tensor:
    """Zero-pads [B,C,H,W] so that a `kernel`/`stride` conv with padding 0 behaves like JAX "SAME"."""
    top, bottom = jax_same_padding(x.shape[-2], kernel, stride)
    left, right = jax_same_padding(x.shape[-1], kernel, stride)
    if top == bottom == left == right == 0:
        return x
    return F.pad(x, (left, right, top, bottom))


def gelu_tanh(x: torch.Tensor) -> torch.Tensor:
    """GELU, tanh approximation (used everywhere in TAPIR)."""
    return F.gelu(x, approximate="tanh")


def temporal_depthwise_conv(x: torch.Tensor, conv: nn.Conv1d) -> torch.Tensor:
    """A depthwise `nn.Conv1d` (groups = in channels) applied along time, without padding ("valid").

    Args:
      x: [P, T + k - 1, C_in] channels-last sequences (the caller pads or prepends causal state).
      conv: Conv1d with weight [C_in * m, 1, k] and groups=C_in; output channel o reads input channel o // m.

    Returns:
      [P, T, C_in * m]. Computed as a sum over the k taps, which keeps channels last (no permutes) and exports
      to ONNX as plain elementwise ops.
    """
    weight = conv.weight  # [C_out, 1, k]
    c_out, _, k = weight.shape
    p, length, c_in = x.shape
    mult = c_out // c_in
    if mult > 1:
        x = x.unsqueeze(-1).expand(p, length, c_in, mult).reshape(p, length, c_out)
    steps = length - k + 1
    out = x[:, 0:steps] * weight[:, 0, 0]
    for tap in range(1, k):
        out = out + x[:, tap:tap + steps] * weight[:, 0, tap]
    if conv.bias is not None:
        out = out + conv.bias
    return out
