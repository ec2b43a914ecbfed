"""TAPIR training losses (arXiv 2306.08637, sec. 3 / appendix), written for `Tapir.forward` Trajectories.

For every estimate (the stage-1 cost-volume estimate and the output of each refinement iteration):
  * position: Huber loss (threshold `huber_delta` pixels) on (x, y), on frames where the point is visible;
  * occlusion: sigmoid binary cross-entropy of the occlusion logit against the ground-truth occlusion;
  * expected distance: sigmoid BCE of the expected-distance logit against "the (gradient-stopped) prediction is
    further than `expd_threshold` pixels from the ground truth", on visible frames.
The model detaches its stage-1 position (no gradient through the soft-argmax window), so the stage-1 position
loss here is recomputed from `heatmap_logits` with a differentiable soft-argmax (argmax window held fixed),
which trains the cost-volume heat map like TAPIR's initial-track loss.
Frames before a track's query frame are excluded (`loss_mask`): the causal model cannot know a point before it
is queried, and `causal` evaluation (and the online engine) never scores them.
All pixel quantities are in model-input pixels (256x256 for the presets), like TAP-Vid's thresholds.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional

import torch
import torch.nn.functional as F

from ..tapir.model import Trajectories
from ..tapir.sampling import soft_argmax


@dataclass(frozen=True)
class LossConfig:
    huber_delta: float = 4.0          # pixels
    expd_threshold: float = 8.0       # pixels: "far" for the expected-distance target
    position_weight: float = 0.05     # Huber (pixels) is ~10-100x the BCE terms early on
    occlusion_weight: float = 1.0
    expd_weight: float = 1.0
    stage1_weight: float = 1.0        # weight of the stage-1 (cost volume) estimate relative to each iteration


def huber(err: torch.Tensor, delta: float) -> torch.Tensor:
    """Huber of the Euclidean error vector norm ([..., 2] -> [...]): 0.5 d^2 for d <= delta, else delta (d - delta/2)."""
    d = torch.sqrt(torch.sum(err * err, dim=-1) + 1e-12)
    return torch.where(d <= delta, 0.5 * d * d, delta * (d - 0.5 * delta))


def _masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return torch.sum(x * mask) / torch.clamp(torch.sum(mask), min=1.0)


def stage1_positions(traj: Trajectories, resolution, temperature: float, radius: float) -> torch.Tensor:
    """Differentiable stage-1 positions [B, N, T, 2] (x, y pixels) from the heat-map logits."""
    b, n, t, h, w = traj.heatmap_logits.shape
    probs = F.softmax(traj.heatmap_logits.reshape(b, n, t, h * w) * temperature, dim=-1).reshape(b, n, t, h, w)
    pos = soft_argmax(probs, radius)
    scale = torch.tensor([resolution[1] / w, resolution[0] / h], dtype=pos.dtype, device=pos.device)
    return pos * scale


def loss_mask(query_points: torch.Tensor, num_frames: int) -> torch.Tensor:
    """[B, N, T] 1 on frames at or after each query frame."""
    frames = torch.arange(num_frames, device=query_points.device, dtype=query_points.dtype)
    return (frames.view(1, 1, -1) >= torch.round(query_points[..., 0:1])).to(query_points.dtype)


def tapir_loss(traj: Trajectories, target_points: torch.Tensor, occluded: torch.Tensor, query_points: torch.Tensor,
               model_config, cfg: LossConfig = LossConfig(), point_mask: Optional[torch.Tensor] = None,
               frame_mask: Optional[torch.Tensor] = None) -> Dict[str, torch.Tensor]:
    """Total and per-term losses.

    Args:
      traj: Trajectories of `Tapir.forward` ([I+1, B, N, T, ...]).
      target_points: [B, N, T, 2] (x, y) pixels; occluded: [B, N, T] bool; query_points: [B, N, 3] (t, y, x).
      point_mask: optional [B, N] 1 for real points (0 = padding).
      frame_mask: optional [B, N, T] 1 where a frame's label may be scored (pseudo-labels: BootsTAP).

    Returns:
      dict with 'loss' (scalar to minimise) and detached 'position', 'occlusion', 'expd', 'final_px_err'.
    """
    t = target_points.shape[2]
    mask = loss_mask(query_points, t)
    if point_mask is not None:
        mask = mask * point_mask.unsqueeze(-1).to(mask.dtype)
    if frame_mask is not None:
        mask = mask * frame_mask.to(mask.dtype)
    occ_t = occluded.to(target_points.dtype)
    vis = mask * (1 - occ_t)
    estimates = [stage1_positions(traj, model_config.resolution, model_config.softmax_temperature,
                                  model_config.soft_argmax_radius)] + [traj.tracks[i] for i in range(1, traj.tracks.shape[0])]
    weights = [cfg.stage1_weight] + [1.0] * (len(estimates) - 1)
    pos_l = occ_l = expd_l = 0.0
    for i, (pos, wgt) in enumerate(zip(estimates, weights)):
        pos_l = pos_l + wgt * _masked_mean(huber(pos - target_points, cfg.huber_delta), vis)
        occ_l = occ_l + wgt * _masked_mean(
            F.binary_cross_entropy_with_logits(traj.occlusion[i], occ_t, reduction="none"), mask)
        far = (torch.sqrt(torch.sum(torch.square(pos.detach() - target_points), -1)) > cfg.expd_threshold)
        expd_l = expd_l + wgt * _masked_mean(
            F.binary_cross_entropy_with_logits(traj.expected_dist[i], far.to(pos.dtype), reduction="none"), vis)
    loss = cfg.position_weight * pos_l + cfg.occlusion_weight * occ_l + cfg.expd_weight * expd_l
    with torch.no_grad():
        err = torch.sqrt(torch.sum(torch.square(traj.tracks[-1] - target_points), -1))
        final_err = _masked_mean(err, vis)
    return {"loss": loss, "position": torch.as_tensor(pos_l).detach(), "occlusion": torch.as_tensor(occ_l).detach(),
            "expd": torch.as_tensor(expd_l).detach(), "final_px_err": final_err}
