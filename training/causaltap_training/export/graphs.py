"""The exported graphs as small `nn.Module` wrappers with fixed input/output names (one wrapper per .onnx file).

Every graph of a model directory takes the same frame tensor, `frame` [1, 3, H, W] float32 RGB in [-1, 1]
(v = p / 127.5 - 1, what `CausalTap.Imaging.ModelInputWriter` writes), and every point is (x, y) in raster model
pixels ((0, 0) = top-left corner of the top-left pixel). Conversions that a family needs (GMRW's [0, 255]
input and pixel-centre point convention) happen inside its graphs, so the engine does none.

TAPIR family (DESIGN §4):
  encoder.onnx  frame -> lowres, hires
  query.onnx    lowres, hires, points -> query_lowres, query_hires
  step.onnx     lowres, hires, query_lowres, query_hires, state -> position, occlusion_logit,
                expected_dist_logit, new_state
GMRW:
  gmrw_encoder.onnx  frame -> gmrw_features                       (CNN, once per frame)
  gmrw_match.onnx    prev_features, new_features, points -> forward, backward, fb_error
                     (pair transformer + sparse forward/backward soft-argmax, once per frame)

The GMRW pair transformer lives in gmrw_match: it needs both frames, runs exactly once per new frame, and the
engine then needs one call per frame for all K points, with only the CNN features of the previous frame kept
(no transformer features are carried between frames).
"""
from __future__ import annotations

from typing import Tuple

import torch
from torch import nn

from ..gmrw.matching import point_flow
from ..gmrw.model import GMRW
from ..tapir import state as causal_state
from ..tapir.model import FeatureGrids, QueryFeatures, Tapir

# ----------------------------------------------------------------------------------------------------- names
TAPIR_ENCODER_IO = (("frame",), ("lowres", "hires"))
TAPIR_QUERY_IO = (("lowres", "hires", "points"), ("query_lowres", "query_hires"))
TAPIR_STEP_IO = (("lowres", "hires", "query_lowres", "query_hires", "state"),
                 ("position", "occlusion_logit", "expected_dist_logit", "new_state"))
GMRW_ENCODER_IO = (("frame",), ("gmrw_features",))
GMRW_MATCH_IO = (("prev_features", "new_features", "points"), ("forward", "backward", "fb_error"))

# The point axis of every per-point tensor is dynamic and named like this in the graphs.
TAPIR_POINT_AXIS = "N"
GMRW_POINT_AXIS = "K"


# ----------------------------------------------------------------------------------------------------- TAPIR
class TapirEncoderGraph(nn.Module):
    """frame [1,3,H,W] in [-1,1] -> lowres [1,C,H/8,W/8], hires [1,C2,H/4,W/4] (L2-normalised over channels)."""

    def __init__(self, model: Tapir) -> None:
        super().__init__()
        self.model = model

    def forward(self, frame: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        grids = self.model.encode(frame)
        return grids.lowres, grids.hires


class TapirQueryGraph(nn.Module):
    """Grids of the query frame + points [N,2] (x, y raster) -> query_lowres [N,C], query_hires [N,C2]."""

    def __init__(self, model: Tapir) -> None:
        super().__init__()
        self.model = model

    def forward(self, lowres: torch.Tensor, hires: torch.Tensor, points: torch.Tensor
                ) -> Tuple[torch.Tensor, torch.Tensor]:
        q = self.model.query_features(FeatureGrids(lowres, hires), points)
        return q.lowres, q.hires


class TapirStepGraph(nn.Module):
    """One causal frame for N points; the causal state is one packed [N, S] float tensor (see `state.pack`).

    Outputs position [N,2] (x, y raster), occlusion_logit [N], expected_dist_logit [N] and new_state [N, S].
    TAPIR re-detects every point on the whole frame, so no previous position is an input.
    """

    def __init__(self, model: Tapir) -> None:
        super().__init__()
        self.model = model

    def forward(self, lowres: torch.Tensor, hires: torch.Tensor, query_lowres: torch.Tensor,
                query_hires: torch.Tensor, state: torch.Tensor):
        st = causal_state.unpack(state, self.model.config)
        out = self.model.step(FeatureGrids(lowres, hires), QueryFeatures(query_lowres, query_hires), st)
        return out.position, out.occlusion_logit, out.expected_dist_logit, causal_state.pack(out.state)


# ----------------------------------------------------------------------------------------------------- GMRW
class GmrwEncoderGraph(nn.Module):
    """frame [1,3,H,W] in [-1,1] -> gmrw_features [1,C,H/s,W/s] (CNN only; s = config.feature_stride).

    The GMRW network expects [0, 255] pixels; the graph maps v -> (v + 1) * 127.5 first, then applies the
    network's own normalisation (official: (p - mean) / std, p not divided by 255; CPU presets: p/255).
    """

    def __init__(self, model: GMRW) -> None:
        super().__init__()
        self.model = model

    def forward(self, frame: torch.Tensor) -> torch.Tensor:
        return self.model.encode((frame + 1.0) * 127.5).features


class GmrwMatchGraph(nn.Module):
    """Pair transformer + sparse forward/backward matcher for K points of the previous frame.

    Inputs: prev_features, new_features [1,C,h,w] (gmrw_encoder outputs of the previous and the new frame),
    points [K,2] (x, y) raster pixels in the previous frame.
    Outputs: forward [K,2] raster positions in the new frame, backward [K,2] raster positions back in the
    previous frame, fb_error [K] = |backward - points| in model pixels (occluded where >= fb_threshold_px).
    GMRW's own convention puts integer coordinates at pixel centres; the graph subtracts 0.5 on input and adds
    it back on output, so its interface is raster like the TAPIR graphs.
    """

    def __init__(self, model: GMRW, image_hw: Tuple[int, int], sampling: str = "flow") -> None:
        super().__init__()
        self.model = model
        self.image_hw = (int(image_hw[0]), int(image_hw[1]))
        self.sampling = sampling

    def forward(self, prev_features: torch.Tensor, new_features: torch.Tensor, points: torch.Tensor):
        pair = self.model.pair(prev_features, new_features)
        temp = self.model.config.softmax_temperature
        pts = (points - 0.5).unsqueeze(0)  # [1,K,2] pixel-centre convention
        fwd = point_flow(pair.prev, pair.new, pts, self.image_hw, temp, self.sampling)
        new_pts = pts + fwd
        bwd = point_flow(pair.new, pair.prev, new_pts, self.image_hw, temp, self.sampling)
        fb = fwd + bwd
        fb_error = torch.sqrt(torch.sum(fb * fb, dim=-1))
        return (new_pts + 0.5)[0], (new_pts + bwd + 0.5)[0], fb_error[0]
