"""Reference helpers for the export tests: float64 twins that measure PyTorch's own float32 noise."""
from __future__ import annotations

import copy
import math

import torch

from ..gmrw.model import GMRW
from ..gmrw.transformer import LayerNorm32


def gmrw_float64_copy(model: GMRW) -> GMRW:
    """A float64 copy of a GMRW whose LayerNorms (float32-only by design) also run in float64.

    GMRW positions come from two peaked soft-argmaxes over unnormalised features, so float32 rounding alone moves
    them by up to ~1e-2 px with the official architecture and random weights; |fp32 - fp64| of PyTorch is the
    noise floor an ONNX Runtime result is compared against.
    """
    model64 = copy.deepcopy(model).double()
    for m in model64.modules():
        if isinstance(m, LayerNorm32):
            m.forward = (lambda x, m=m: torch.nn.LayerNorm.forward(m, x))
    return model64


def gmrw_match_bound(ref32: dict, ref64: dict) -> dict:
    """Tolerances for an independent float32 run of gmrw_match, from PyTorch's float32 error on the same inputs.

    ref32, ref64: {"forward", "backward", "fb_error"} of the float32 model and its float64 copy, fed the same
    inputs as the run under test. Both positions come from the same two peaked soft-argmaxes, so one noise
    floor serves the graph: the worst |torch fp32 - fp64| over the forward and backward coordinates. ONNX
    Runtime is another float32 implementation (other summation order, FMA, its own exp), so its error against
    fp64 has that scale but is a different sample: measured on the converter test's inputs it is at most 2.1x
    the floor (AMD EPYC, ORT and torch at 1 and 2 threads), hence 4x. fb_error = |backward - points| moves by
    at most the Euclidean error of `backward` (triangle inequality), so its bound is sqrt(2) x the coordinate
    bound rather than a noise sample of its own, which can be near zero by cancellation (issue 12). A wrongly
    mapped weight moves positions by pixels: swapping one attention block's q/k projections gave 40 px.
    """
    floor = max(float((ref32[k].double() - ref64[k].double()).abs().max()) for k in ("forward", "backward"))
    coordinate = max(1e-3, 4 * floor)
    return {"forward": coordinate, "backward": coordinate, "fb_error": math.sqrt(2.0) * coordinate}
