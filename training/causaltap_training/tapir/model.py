"""TAPIR / BootsTAPIR with explicit causal state, split into the three stages of our ONNX graphs.

  encode(frames)                       -> FeatureGrids        (encoder.onnx)
  query_features(grids, points)        -> QueryFeatures       (query.onnx)
  step(grids, query, state)            -> StepOutput          (step.onnx; one frame, causal)
  forward(video, query_points, causal) -> Trajectories        (whole clip, causal or not; training / offline)

All of them share `estimate_trajectories`, so the online and the whole-clip paths are the same math. The module
holds only weights: the causal state goes in and comes back out. Attribute names equal the official tapnet
torch state_dict keys, so `causal_bootstapir_checkpoint.pt` loads with strict=True into the `bootstapir` preset.

Conventions: frames are [.., 3, H, W] floats in [-1, 1] at `config.resolution`; points are raster (x, y) pixels
of that input ((0,0) = top-left corner of the top-left pixel); clip queries are (t, y, x) like TAP-Vid.
Refinement runs at the model resolution only (no multi-resolution refinement: inputs are resized to a static
size before the encoder).
"""
from __future__ import annotations

from typing import NamedTuple, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from . import state as causal_state
from .backbone import ExtraConvs, ResNet
from .config import TapirConfig
from .cost_volume import CostVolumeHead
from .mixer import PIPSMLPMixer
from .sampling import l2_normalize_channels, patch_offsets, raster_to_grid_units, sample_points, soft_argmax
from .state import CausalState


class FeatureGrids(NamedTuple):
    """L2-normalised per-frame feature maps, NCHW, one row per frame (batch x time flattened).

    Attributes:
      lowres: [F, lowres_dim, H/8, W/8] (BootsTAPIR at 256^2: [F, 256, 32, 32]).
      hires: [F, hires_dim, H/4, W/4] (BootsTAPIR at 256^2: [F, 128, 64, 64]).
    """

    lowres: torch.Tensor
    hires: torch.Tensor


class QueryFeatures(NamedTuple):
    """Features of the query points, sampled from their query frame (leading dims [N] or [B, N]).

    Attributes:
      lowres: [..., N, lowres_dim].
      hires: [..., N, hires_dim].
    """

    lowres: torch.Tensor
    hires: torch.Tensor


class StepOutput(NamedTuple):
    """One causal step for N points.

    Attributes:
      position: [N, 2] (x, y) raster pixels of the model input.
      occlusion_logit: [N] higher = occluded.
      expected_dist_logit: [N] higher = less certain.
      state: the new CausalState ([N, ...] rows).
    """

    position: torch.Tensor
    occlusion_logit: torch.Tensor
    expected_dist_logit: torch.Tensor
    state: CausalState


class Trajectories(NamedTuple):
    """Estimates of every stage for B videos, N points and T frames. Index 0 of the first three fields is the
    stage-1 (cost-volume) estimate, index i >= 1 the estimate after refinement iteration i.

    Attributes:
      tracks: [I+1, B, N, T, 2] (x, y) raster pixels.
      occlusion: [I+1, B, N, T] logits.
      expected_dist: [I+1, B, N, T] logits.
      heatmap_logits: [B, N, T, h, w] stage-1 heat-map logits (before the temperature and softmax).
      mixer_inputs: [I, B, N, T, mixer_input_dim].
      mixer_outputs: [I, B, N, T, mixer_output_dim] (dpos x,y in pixels, docc, dexpd, dfeature).
    """

    tracks: torch.Tensor
    occlusion: torch.Tensor
    expected_dist: torch.Tensor
    heatmap_logits: torch.Tensor
    mixer_inputs: torch.Tensor
    mixer_outputs: torch.Tensor


def visible_prob(occlusion_logit: torch.Tensor, expected_dist_logit: torch.Tensor) -> torch.Tensor:
    """(1 - sigmoid(occ)) * (1 - sigmoid(expd)); a point is visible where this is > 0.5."""
    return (1 - torch.sigmoid(occlusion_logit)) * (1 - torch.sigmoid(expected_dist_logit))


class Tapir(nn.Module):
    """TAPIR / BootsTAPIR (see module docstring). Build from a `TapirConfig` (e.g. `config.preset('bootstapir')`)."""

    def __init__(self, config: TapirConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        self.resnet_torch = ResNet(c.channels, c.strides, c.blocks_per_group, c.stem_kernel, c.stem_stride)
        self.torch_cost_volume_track_mods = CostVolumeHead(c.cost_hidden, c.occ_conv_channels, c.occ_mlp_hidden)
        self.torch_pips_mixer = PIPSMLPMixer(c.mixer_input_dim, c.mixer_output_dim, c.mixer_hidden_dim,
                                             c.num_mixer_blocks, c.mixer_expansion, c.mixer_kernel_size)
        if c.extra_conv_blocks > 0:
            self.extra_convs = ExtraConvs(c.extra_conv_blocks, c.lowres_dim, c.extra_conv_multiplier)
        else:
            self.extra_convs = None

    # ------------------------------------------------------------------ stage: encoder
    def encode(self, frames: torch.Tensor) -> FeatureGrids:
        """frames [F, 3, H, W] in [-1, 1] -> FeatureGrids (hires = group 1, lowres = group 3 + ExtraConvs)."""
        units = self.resnet_torch(frames).units
        lowres = units[3]
        if self.extra_convs is not None:
            lowres = self.extra_convs(lowres)
        return FeatureGrids(l2_normalize_channels(lowres, 1), l2_normalize_channels(units[1], 1))

    # ------------------------------------------------------------------ stage: query features
    def query_features(self, grids: FeatureGrids, points: torch.Tensor) -> QueryFeatures:
        """Features of points on one frame.

        Args:
          grids: FeatureGrids of a single frame ([1, C, h, w]).
          points: [N, 2] (x, y) raster pixels of the model input.

        Returns:
          QueryFeatures with lowres [N, lowres_dim], hires [N, hires_dim] (bilinear, clamped to the border cells).
        """
        frame = torch.zeros(1, points.shape[0], dtype=torch.long, device=points.device)
        q = self.clip_query_features(grids, points.unsqueeze(0), frame, num_frames=1)
        return QueryFeatures(q.lowres[0], q.hires[0])

    def clip_query_features(self, grids: FeatureGrids, points: torch.Tensor, frame_index: torch.Tensor,
                            num_frames: int) -> QueryFeatures:
        """Features of points that each come from their own frame of a clip.

        Args:
          grids: FeatureGrids of B clips of `num_frames` frames ([B*T, C, h, w]).
          points: [B, N, 2] (x, y) raster pixels.
          frame_index: [B, N] integer frame of each point (clamped to [0, T-1]).

        Returns:
          QueryFeatures with lowres [B, N, lowres_dim], hires [B, N, hires_dim].
        """
        b, n = points.shape[:2]
        t = num_frames
        frame_index = frame_index.long().clamp(0, t - 1)
        out = []
        for grid in (grids.lowres, grids.hires):
            pos = raster_to_grid_units(points, self.config.resolution, tuple(grid.shape[-2:]))
            pos = pos.unsqueeze(1).expand(b, t, n, 2).reshape(b * t, n, 2)
            feats = sample_points(grid, pos, "border")  # [B*T, N, C]
            feats = feats.reshape(b, t, n, -1)
            index = frame_index.view(b, 1, n, 1).expand(b, 1, n, feats.shape[-1])
            out.append(torch.gather(feats, 1, index)[:, 0])
        return QueryFeatures(out[0], out[1])

    # ------------------------------------------------------------------ stage: tracking
    def initial_state(self, num_points: int, device=None) -> CausalState:
        """All-zero causal state for `num_points` points."""
        return causal_state.initial_state(self.config, num_points, device=device)

    def step(self, grids: FeatureGrids, query: QueryFeatures, state: CausalState) -> StepOutput:
        """One causal frame for N points.

        Args:
          grids: FeatureGrids of the new frame ([1, C, h, w]).
          query: QueryFeatures [N, C] of the points.
          state: CausalState with N rows (zeros for points added since the last step).

        Returns:
          StepOutput (final refinement iteration) with the new state.

        TAPIR re-detects every point on the whole frame in stage 1 (that is how it recovers from occlusions), so
        it takes no previous position: the temporal context is entirely in the causal state.
        """
        traj, new_state = self.step_trace(grids, query, state)
        return StepOutput(traj.tracks[-1, 0, :, 0], traj.occlusion[-1, 0, :, 0], traj.expected_dist[-1, 0, :, 0],
                          new_state)

    def step_trace(self, grids: FeatureGrids, query: QueryFeatures, state: CausalState
                   ) -> Tuple[Trajectories, CausalState]:
        """`step` returning every stage (Trajectories with B=1, T=1) for tests and debugging."""
        q = QueryFeatures(query.lowres.unsqueeze(0), query.hires.unsqueeze(0))
        traj, new_state = self.estimate_trajectories(grids, q, num_frames=1, state=state, causal=True)
        assert new_state is not None
        return traj, new_state

    def forward(self, video: torch.Tensor, query_points: torch.Tensor, causal: Optional[bool] = None,
                snap_queries: bool = True) -> Trajectories:
        """Tracks query points through whole clips.

        Args:
          video: [B, T, 3, H, W] in [-1, 1].
          query_points: [B, N, 3] (t, y, x); t an integer frame, y/x raster pixels.
          causal: causal temporal convs (left zero padding, same as stepping frame by frame from a zero state
            except that stage 1 is snapped to the query at the query frame) or non-causal (symmetric padding).
            None = `config.causal`.
          snap_queries: replace the stage-1 estimate at each query's own frame by the query position (tapnet's
            offline behaviour). With False and every query on frame 0, a causal call equals stepping the
            clip frame by frame with `OnlineTracker` (same numbers up to float rounding).

        Returns:
          Trajectories (final estimate: `tracks[-1]`, `occlusion[-1]`, `expected_dist[-1]`).
        """
        b, t = video.shape[:2]
        grids = self.encode(video.reshape(b * t, *video.shape[2:]))
        frame_index = torch.round(query_points[..., 0]).long()
        points = torch.flip(query_points[..., 1:3], dims=(-1,))
        query = self.clip_query_features(grids, points, frame_index, t)
        traj, _ = self.estimate_trajectories(grids, query, t, causal=causal,
                                             query_points=query_points if snap_queries else None)
        return traj

    def estimate_trajectories(self, grids: FeatureGrids, query: QueryFeatures, num_frames: int,
                              state: Optional[CausalState] = None, causal: Optional[bool] = None,
                              query_points: Optional[torch.Tensor] = None
                              ) -> Tuple[Trajectories, Optional[CausalState]]:
        """Stage 1 + the PIPs refinements on B clips of T frames.

        Args:
          grids: FeatureGrids [B*T, ...].
          query: QueryFeatures [B, N, C].
          num_frames: T.
          state: causal state [B*N, ...] carried in from earlier frames; zeros when None and causal.
          causal: None = causal iff a state is given or `config.causal`.
          query_points: [B, N, 3] (t, y, x); when given, the stage-1 estimate at each query's own frame is
            replaced by the query position (offline mode). Online calls leave it None.

        Returns:
          (Trajectories, new state [B*N, ...] when causal else None).
        """
        cfg = self.config
        if causal is None:
            causal = state is not None or cfg.causal
        if state is not None and not causal:
            raise ValueError("a causal state was given to a non-causal call")
        b, n = query.lowres.shape[:2]
        t = num_frames
        img_hw = cfg.resolution

        # stage 1: cost volume of each query against each frame's low-res grid
        lo = grids.lowres
        h, w = lo.shape[-2:]
        cost = torch.einsum("bnc,btchw->bnthw", query.lowres, lo.reshape(b, t, *lo.shape[1:]))
        cv = self.torch_cost_volume_track_mods(cost.reshape(b * n * t, h, w))
        heatmap_logits = cv.heatmap_logits.reshape(b, n, t, h, w)
        probs = F.softmax(heatmap_logits.reshape(b, n, t, h * w) * cfg.softmax_temperature, dim=-1)
        pos = soft_argmax(probs.reshape(b, n, t, h, w), cfg.soft_argmax_radius)
        scale = torch.tensor([img_hw[1] / w, img_hw[0] / h], dtype=pos.dtype, device=pos.device)
        pos = (pos * scale).detach()  # as in tapnet: no gradient through the stage-1 argmax window
        if query_points is not None:
            frames = torch.arange(t, device=pos.device).view(1, 1, t)
            is_query = (torch.round(query_points[..., 0:1]) == frames).unsqueeze(-1)  # [B, N, T, 1]
            query_xy = torch.flip(query_points[..., 1:3], dims=(-1,)).unsqueeze(2).to(pos.dtype)
            pos = torch.where(is_query, query_xy, pos)
        occ = cv.occlusion.reshape(b, n, t)
        expd = cv.expected_dist.reshape(b, n, t)
        tracks, occs, expds = [pos], [occ], [expd]

        # stage 2: PIPs refinement on hi-res, low-res and pooled low-res neighbourhoods
        pyramid = [grids.hires, grids.lowres]
        for _ in range(cfg.pyramid_level):
            pyramid.append(F.avg_pool2d(pyramid[-1], kernel_size=2, stride=2))
        offsets = patch_offsets(cfg.patch_size, device=pos.device, dtype=pos.dtype)  # [S, 2]
        if causal and state is None:
            state = causal_state.initial_state(cfg, b * n, device=pos.device, dtype=pos.dtype)
        new1, new2 = [], []
        feats = torch.cat([query.hires, query.lowres], dim=-1).unsqueeze(2).expand(b, n, t, -1)
        mixer_inputs, mixer_outputs = [], []
        for it in range(cfg.num_pips_iter):
            q_hi, q_lo = feats[..., :cfg.hires_dim], feats[..., cfg.hires_dim:]
            level_queries = [q_hi, q_lo] + [q_lo] * cfg.pyramid_level
            corrs = []
            for grid, qf in zip(pyramid, level_queries):
                corrs.append(self._correlation(grid, qf, pos, offsets))
            zeros = torch.zeros(b, n, t, 2, dtype=pos.dtype, device=pos.device)
            mixer_in = torch.cat([zeros, occ.unsqueeze(-1), expd.unsqueeze(-1), feats] + corrs, dim=-1)
            it_state = (state.conv1[:, it], state.conv2[:, it]) if causal else None
            res, it_state = self.torch_pips_mixer(mixer_in.reshape(b * n, t, -1), it_state)
            res = res.reshape(b, n, t, -1)
            if it_state is not None:
                new1.append(it_state[0])
                new2.append(it_state[1])
            pos = pos + res[..., 0:2]
            occ = occ + res[..., 2]
            expd = expd + res[..., 3]
            feats = res[..., 4:] + feats
            tracks.append(pos)
            occs.append(occ)
            expds.append(expd)
            mixer_inputs.append(mixer_in)
            mixer_outputs.append(res)

        new_state = CausalState(torch.stack(new1, 1), torch.stack(new2, 1)) if causal else None
        traj = Trajectories(torch.stack(tracks), torch.stack(occs), torch.stack(expds), heatmap_logits,
                            torch.stack(mixer_inputs), torch.stack(mixer_outputs))
        return traj, new_state

    def _correlation(self, grid: torch.Tensor, query: torch.Tensor, pos: torch.Tensor,
                     offsets: torch.Tensor) -> torch.Tensor:
        """Dot products of per-frame query features with a patch of the grid around each position.

        Args:
          grid: [B*T, C, h, w] one map per frame.
          query: [B, N, T, C] query feature per point and frame.
          pos: [B, N, T, 2] (x, y) raster pixels of the model input.
          offsets: [S, 2] (dx, dy) in cells.

        Returns:
          [B, N, T, S]; taps outside the grid read zeros.
        """
        b, n, t = pos.shape[:3]
        s = offsets.shape[0]
        centre = raster_to_grid_units(pos, self.config.resolution, tuple(grid.shape[-2:]))
        if t == 1 and self.config.step_correlation == "dot":
            # One frame (the online step): dot each query with the whole grid first (one MatMul), then sample the
            # 1-channel correlation map. Bilinear sampling is linear, so this equals sampling C channels and
            # then dotting (up to float rounding), and in ONNX Runtime it is 2-10x faster (GridSample cost
            # grows with the channels). Whole clips keep the sampling path (cheaper for T > 1 and in training).
            h, w = grid.shape[-2:]
            cmap = torch.matmul(query[:, :, 0], grid.reshape(b, grid.shape[1], h * w))  # [B, N, h*w]
            coords = (centre[:, :, 0].unsqueeze(-2) + offsets).reshape(b * n, s, 2)
            corr = sample_points(cmap.reshape(b * n, 1, h, w), coords, "zeros")  # [B*N, S, 1]
            return corr.reshape(b, n, 1, s)
        coords = centre.unsqueeze(-2) + offsets  # [B, N, T, S, 2]
        coords = coords.permute(0, 2, 1, 3, 4).reshape(b * t, n * s, 2)
        patch = sample_points(grid, coords, "zeros").reshape(b, t, n, s, -1)  # [B, T, N, S, C]
        return torch.einsum("btnsc,bntc->bnts", patch, query)
