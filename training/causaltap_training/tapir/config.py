"""Sizes of a TAPIR-family model, and the named presets.

Everything that the official torch port hard-codes (channel counts, mixer width, kernel sizes, padding,
block counts) is a field here, so one code path builds the official BootsTAPIR and our small CPU models.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Dict, Tuple


@dataclass(frozen=True)
class TapirConfig:
    """Architecture of a TAPIR / BootsTAPIR model (frozen; derive variants with `dataclasses.replace`).

    Backbone: a 7x7 stem, then 4 groups of pre-activation residual blocks. The hi-res grid is the output of
    group 1 (stride stem*strides[0]*strides[1]), the low-res grid is the output of group 3, optionally followed
    by `extra_conv_blocks` BootsTAPIR ExtraConv blocks. Both grids are L2-normalised over channels.
    """

    name: str = "custom"
    # input
    resolution: Tuple[int, int] = (256, 256)          # (H, W) of the model input, multiples of 8
    # backbone
    stem_kernel: int = 7
    stem_stride: int = 2
    channels: Tuple[int, int, int, int] = (64, 128, 256, 256)
    strides: Tuple[int, int, int, int] = (1, 2, 2, 1)
    blocks_per_group: Tuple[int, int, int, int] = (2, 2, 2, 2)
    extra_conv_blocks: int = 5                          # BootsTAPIR ExtraConvs on the low-res grid (0 = none)
    extra_conv_multiplier: int = 4
    # stage 1: cost-volume initialisation
    cost_hidden: int = 16                               # hid1 channels
    occ_conv_channels: int = 32                         # hid3 channels (stride-2 conv of the occlusion branch)
    occ_mlp_hidden: int = 16                            # hid4 width
    softmax_temperature: float = 20.0
    soft_argmax_radius: float = 5.0                     # in low-res cells
    # stage 2: PIPs refinement
    num_pips_iter: int = 4
    pyramid_level: int = 1                              # extra 2x2-avg-pooled low-res levels in the correlation
    patch_size: int = 7                                 # side of the correlation neighbourhood (odd)
    mixer_hidden_dim: int = 512
    mixer_expansion: int = 4                            # temporal-conv and channel-MLP expansion
    num_mixer_blocks: int = 12
    mixer_kernel_size: int = 3                          # temporal depthwise conv taps
    causal: bool = True                                 # default temporal mode of `forward` (step is always causal)
    # correlation of single-frame calls (`step`): "dot" = query . grid, then sample a 1-channel map (same math,
    # much faster in ONNX Runtime); "sample" = sample C channels then dot (the whole-clip path, always used for T>1)
    step_correlation: str = "dot"

    def __post_init__(self) -> None:
        if self.patch_size % 2 != 1:
            raise ValueError(f"patch_size must be odd, got {self.patch_size}")
        if self.mixer_kernel_size % 2 != 1:
            raise ValueError(f"mixer_kernel_size must be odd, got {self.mixer_kernel_size}")
        if self.step_correlation not in ("dot", "sample"):
            raise ValueError(f"step_correlation must be 'dot' or 'sample', got {self.step_correlation!r}")
        h, w = self.resolution
        if h % 8 or w % 8:
            raise ValueError(f"resolution must be a multiple of 8, got {self.resolution}")

    @property
    def hires_dim(self) -> int:
        """Channels of the hi-res grid (output of backbone group 1)."""
        return self.channels[1]

    @property
    def lowres_dim(self) -> int:
        """Channels of the low-res grid (output of backbone group 3)."""
        return self.channels[3]

    @property
    def hires_stride(self) -> int:
        return self.stem_stride * self.strides[0] * self.strides[1]

    @property
    def lowres_stride(self) -> int:
        return self.hires_stride * self.strides[2] * self.strides[3]

    @property
    def num_correlation_levels(self) -> int:
        """hi-res, low-res, then `pyramid_level` pooled low-res levels."""
        return 2 + self.pyramid_level

    @property
    def mixer_output_dim(self) -> int:
        """dpos (2) + docc + dexpd + running feature (hires_dim + lowres_dim)."""
        return 4 + self.hires_dim + self.lowres_dim

    @property
    def mixer_input_dim(self) -> int:
        """zeros (2) + occ + expd + feature + one patch of correlations per level (535 for BootsTAPIR)."""
        return self.mixer_output_dim + self.num_correlation_levels * self.patch_size ** 2

    @property
    def state_steps(self) -> int:
        """Past time steps each causal temporal conv keeps (kernel size - 1)."""
        return self.mixer_kernel_size - 1

    @property
    def state_floats_per_point(self) -> int:
        """Floats of causal state per point: iterations x blocks x steps x (D + expansion*D)."""
        d = self.mixer_hidden_dim
        return (self.num_pips_iter * self.num_mixer_blocks * self.state_steps
                * (d + self.mixer_expansion * d))


# The official causal BootsTAPIR: the constructor of the parity fixture and of tapnet's torch demos
# (`TAPIR(pyramid_level=1, use_casual_conv=True)`), which load `causal_bootstapir_checkpoint.pt`. The torch demos
# keep the torch default softmax temperature 20; the JAX BootsTAPIR config uses 10 (replace() it if needed).
BOOTSTAPIR = TapirConfig(name="bootstapir")

# The original TAPIR (`tapir_checkpoint_panning.pt`): tapnet's torch code builds it as
# `TAPIR(pyramid_level=0, extra_convs=False)`; offline (non-causal) temporal convs, temperature 20. It was
# trained non-causally, so use it through `forward`; `step` (always causal) is not what it was trained for.
TAPIR = TapirConfig(name="tapir", extra_conv_blocks=0, pyramid_level=0, causal=False)

# Our own CPU models (trained by us; they do not load official weights).
SMALL = TapirConfig(
    name="small", channels=(32, 64, 96, 128), blocks_per_group=(1, 1, 1, 1), extra_conv_blocks=0,
    cost_hidden=8, occ_conv_channels=16, occ_mlp_hidden=16, num_pips_iter=2, pyramid_level=1,
    mixer_hidden_dim=128, num_mixer_blocks=4)

TINY = TapirConfig(
    name="tiny", channels=(16, 32, 48, 64), blocks_per_group=(1, 1, 1, 1), extra_conv_blocks=0,
    cost_hidden=8, occ_conv_channels=16, occ_mlp_hidden=16, num_pips_iter=1, pyramid_level=0,
    patch_size=5, mixer_hidden_dim=64, num_mixer_blocks=3)

# The bundled CPU defaults (2-core x86 budget: encoder + step for 256 points at 256^2 well under 33 ms in ONNX
# Runtime; see train/README.md for the timing table). Compared with `tiny`: the first block group strides (the
# 128^2 stage is the most expensive part of the encoder; hi-res stays at stride 4, low-res at 8), a thinner
# stage-1 head (its convs run once per point on the 32x32 cost volume), one refinement iteration with a
# two-block mixer (step time is linear in the point count and dominated by per-point ops).
CPU = TapirConfig(
    name="cpu", channels=(16, 32, 64, 64), strides=(2, 1, 2, 1), blocks_per_group=(1, 1, 1, 1),
    extra_conv_blocks=0, cost_hidden=4, occ_conv_channels=8, occ_mlp_hidden=16, num_pips_iter=1,
    pyramid_level=0, patch_size=5, mixer_hidden_dim=64, num_mixer_blocks=2)

# Cheapest usable variant: narrower grids, 3x3 correlation patches, one mixer block with expansion 2.
CPU_FAST = TapirConfig(
    name="cpu_fast", channels=(16, 24, 48, 48), strides=(2, 1, 2, 1), blocks_per_group=(1, 1, 1, 1),
    extra_conv_blocks=0, cost_hidden=4, occ_conv_channels=8, occ_mlp_hidden=8, num_pips_iter=1,
    pyramid_level=0, patch_size=3, mixer_hidden_dim=48, num_mixer_blocks=1, mixer_expansion=2)

PRESETS: Dict[str, TapirConfig] = {c.name: c for c in (BOOTSTAPIR, TAPIR, SMALL, TINY, CPU, CPU_FAST)}


def preset(name: str, **overrides) -> TapirConfig:
    """A named preset (`bootstapir`, `tapir`, `small`, `tiny`, `cpu`, `cpu_fast`), optionally with fields replaced."""
    if name not in PRESETS:
        raise KeyError(f"unknown TAPIR preset {name!r}; known: {sorted(PRESETS)}")
    cfg = PRESETS[name]
    return dataclasses.replace(cfg, **overrides) if overrides else cfg
