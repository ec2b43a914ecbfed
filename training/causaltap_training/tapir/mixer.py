"""The PIPs MLP-mixer with depthwise temporal convolutions, causal (explicit state in/out) or non-causal.

Names equal the official checkpoint keys (`torch_pips_mixer.blocks.{i}.mlp1_up`, ...).
"""
from __future__ import annotations

from typing import NamedTuple, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from .layers import LayerNorm, gelu_tanh, temporal_depthwise_conv


class BlockState(NamedTuple):
    """Causal state of one mixer block.

    Attributes:
      conv1: [P, k-1, D] last k-1 inputs of `mlp1_up` (LayerNorm outputs), oldest first.
      conv2: [P, k-1, m*D] last k-1 inputs of `mlp1_up_1` (GELU outputs), oldest first.
    """

    conv1: torch.Tensor
    conv2: torch.Tensor


class ConvChannelsMixer(nn.Module):
    """Channel MLP: Linear D -> m*D, GELU(tanh), Linear m*D -> D."""

    def __init__(self, dim: int, expansion: int) -> None:
        super().__init__()
        self.mlp2_up = nn.Linear(dim, dim * expansion)
        self.mlp2_down = nn.Linear(dim * expansion, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp2_down(gelu_tanh(self.mlp2_up(x)))


class PIPsConvBlock(nn.Module):
    """x += sum_of_m_groups(DWconv_t(GELU(DWconv_t(LN(x))))); x += ChannelMLP(LN_1(x)).

    `mlp1_up` is a depthwise temporal conv D -> m*D (output o reads input o // m), `mlp1_up_1` is depthwise on
    m*D; the m*D result is folded back to D by summing each group of m consecutive channels. Both convs hold
    only weights; padding is chosen per call (causal: k-1 past steps from the state; non-causal: symmetric).
    """

    def __init__(self, dim: int, expansion: int, kernel_size: int) -> None:
        super().__init__()
        self.dim = dim
        self.expansion = expansion
        self.kernel_size = kernel_size
        self.layer_norm = LayerNorm(dim, bias=False)
        self.mlp1_up = nn.Conv1d(dim, dim * expansion, kernel_size, padding=0, groups=dim)
        self.mlp1_up_1 = nn.Conv1d(dim * expansion, dim * expansion, kernel_size, padding=0,
                                   groups=dim * expansion)
        self.layer_norm_1 = LayerNorm(dim, bias=False)
        self.conv_channels_mixer = ConvChannelsMixer(dim, expansion)

    def forward(self, x: torch.Tensor, state: Optional[BlockState]) -> Tuple[torch.Tensor, Optional[BlockState]]:
        """Runs the block on sequences.

        Args:
          x: [P, T, D] (P = points, T = time steps).
          state: causal mode when given (its k-1 past steps are prepended; zeros = start of the sequence);
            non-causal (symmetric zero padding over the T steps) when None.

        Returns:
          ([P, T, D], new state or None). The new state holds the last k-1 steps of the padded sequences.
        """
        steps = self.kernel_size - 1
        ln = self.layer_norm(x)
        if state is not None:
            seq1 = torch.cat([state.conv1, ln], dim=1)
        else:
            seq1 = F.pad(ln, (0, 0, steps // 2, steps - steps // 2))
        hidden = gelu_tanh(temporal_depthwise_conv(seq1, self.mlp1_up))  # [P, T, m*D]
        if state is not None:
            seq2 = torch.cat([state.conv2, hidden], dim=1)
            new_state = BlockState(seq1[:, seq1.shape[1] - steps:], seq2[:, seq2.shape[1] - steps:])
        else:
            seq2 = F.pad(hidden, (0, 0, steps // 2, steps - steps // 2))
            new_state = None
        y = temporal_depthwise_conv(seq2, self.mlp1_up_1)  # [P, T, m*D]
        p, t, _ = y.shape
        x = x + y.reshape(p, t, self.dim, self.expansion).sum(-1)
        x = x + self.conv_channels_mixer(self.layer_norm_1(x))
        return x, new_state


class PIPSMLPMixer(nn.Module):
    """Linear(in -> D), blocks, LayerNorm (no bias), Linear(D -> out)."""

    def __init__(self, input_dim: int, output_dim: int, hidden_dim: int, num_blocks: int, expansion: int,
                 kernel_size: int) -> None:
        super().__init__()
        self.linear = nn.Linear(input_dim, hidden_dim)
        self.blocks = nn.ModuleList([PIPsConvBlock(hidden_dim, expansion, kernel_size) for _ in range(num_blocks)])
        self.layer_norm = LayerNorm(hidden_dim, bias=False)
        self.linear_1 = nn.Linear(hidden_dim, output_dim)

    def forward(self, x: torch.Tensor, state: Optional[Tuple[torch.Tensor, torch.Tensor]]
                ) -> Tuple[torch.Tensor, Optional[Tuple[torch.Tensor, torch.Tensor]]]:
        """Runs the mixer.

        Args:
          x: [P, T, input_dim].
          state: causal when given: (conv1 [P, blocks, k-1, D], conv2 [P, blocks, k-1, m*D]); None = non-causal.

        Returns:
          ([P, T, output_dim], new state of the same layout, or None).
        """
        x = self.linear(x)
        new1, new2 = [], []
        for b, block in enumerate(self.blocks):
            block_state = BlockState(state[0][:, b], state[1][:, b]) if state is not None else None
            x, block_state = block(x, block_state)
            if block_state is not None:
                new1.append(block_state.conv1)
                new2.append(block_state.conv2)
        x = self.linear_1(self.layer_norm(x))
        new_state = (torch.stack(new1, 1), torch.stack(new2, 1)) if state is not None else None
        return x, new_state
