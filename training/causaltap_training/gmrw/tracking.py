"""Whole-clip GMRW tracking (official `run_crw(setting="forward_backward_query_point")` logic).

Per consecutive pair (t, t+1) one transformer pass; forward flows read rows prev->new, backward
flows rows new->prev of the same pass (the transformer is symmetric in the pair; the official code
runs a second pass on the reversed clip, which gives the same features up to float rounding).

Chaining (pixel-index convention, bilinear_sample2d semantics, see matching.py):
  * forward from frame 0: x_{t+1} = x_t + f_{t->t+1}(x_t); reset to the query at its frame;
  * then for frames before the query, backward: x_t = x_{t+1} + f_{t+1->t}(x_{t+1});
  * fb_dist[t] = |f_{t->t+1}(x_t) + f_{t+1->t}(x_{t+1})|;
  * visible[t] = inbounds(x_t) & (t == T-1 or fb_dist[t] < thr) & (t == 0 or fb_dist[t-1] < thr),
    forced True at the query frame.
The flows at points come from the sparse matcher rows (no N x N matrix); dense flow fields are
optional (chunked) for inspection.
"""
from __future__ import annotations

from typing import List, NamedTuple, Optional

import torch

from .matching import dense_flow, point_flow
from .model import GMRW, PairFeatures


class ClipTracks(NamedTuple):
  """Tracks of N query points through a T-frame clip.

  tracks: [T, N, 2] (x, y) model pixels.
  visible: [T, N] bool.
  fb_dist: [T-1, N] forward-backward distance of pair (t, t+1) at the final tracks, pixels.
  forward_flows_feat: [T-1, h, w, 2] cell flows t -> t+1 (dx, dy), or None.
  backward_flows_feat: [T-1, h, w, 2] cell flows t+1 -> t, or None.
  """
  tracks: torch.Tensor
  visible: torch.Tensor
  fb_dist: torch.Tensor
  forward_flows_feat: Optional[torch.Tensor]
  backward_flows_feat: Optional[torch.Tensor]


def clip_pair_features(model: GMRW, frames: torch.Tensor) -> List[PairFeatures]:
  """frames [T,3,H,W] in [0,255] -> transformer features of the T-1 consecutive pairs (CNN once per frame)."""
  feats = model.encode(frames).features
  return [model.pair(feats[t:t + 1], feats[t + 1:t + 2]) for t in range(frames.shape[0] - 1)]


def track_clip(model: GMRW, frames: torch.Tensor, query_points: torch.Tensor, sampling: str = "flow",
               with_dense_flows: bool = False, dense_chunk: int = 1024,
               pairs: Optional[List[PairFeatures]] = None) -> ClipTracks:
  """Tracks query points through a clip.

  Args:
    frames: [T,3,H,W] RGB float in [0,255] at the model image size.
    query_points: [N,3] (t, y, x) model pixels.
    sampling: matcher convention, "flow" (official) or "feature".
    with_dense_flows: also return the full cell-flow fields (O(N_pix^2) compute, chunked memory).
    pairs: precomputed clip_pair_features(model, frames), to reuse.
  """
  t_len = frames.shape[0]
  image_hw = tuple(frames.shape[-2:])
  temp = model.config.softmax_temperature
  thr = model.config.fb_threshold_px
  if pairs is None:
    pairs = clip_pair_features(model, frames)

  query_points = query_points.to(frames.device)
  q_t = query_points[:, 0].round().long()
  q_xy = query_points[:, [2, 1]].to(frames.dtype)[None]  # [1,N,2]

  def fwd(t, pts):
    return point_flow(pairs[t].prev, pairs[t].new, pts, image_hw, temp, sampling)

  def bwd(t, pts):
    return point_flow(pairs[t].new, pairs[t].prev, pts, image_hw, temp, sampling)

  coords = []
  for t in range(t_len):
    c = torch.zeros_like(q_xy) if t == 0 else coords[t - 1] + fwd(t - 1, coords[t - 1])
    coords.append(torch.where((q_t == t)[None, :, None], q_xy, c))
  for t in range(t_len - 2, -1, -1):
    back = coords[t + 1] + bwd(t, coords[t + 1])
    coords[t] = torch.where((t < q_t)[None, :, None], back, coords[t])
  tracks = torch.cat(coords, dim=0)  # [T,N,2]

  fb = torch.stack([torch.linalg.norm(fwd(t, coords[t]) + bwd(t, coords[t + 1]), dim=-1)[0]
                    for t in range(t_len - 1)])  # [T-1,N]
  ok = fb < thr
  true_row = torch.ones_like(ok[:1])
  fwd_ok = torch.cat((ok, true_row), dim=0)
  bwd_ok = torch.cat((true_row, ok), dim=0)
  h_img, w_img = image_hw
  inb = (tracks[..., 0] >= 0) & (tracks[..., 1] >= 0) & (tracks[..., 0] < w_img) & (tracks[..., 1] < h_img)
  visible = inb & fwd_ok & bwd_ok
  visible = visible | (torch.arange(t_len, device=q_t.device)[:, None] == q_t[None, :])

  ff = bf = None
  if with_dense_flows:
    ff = torch.cat([dense_flow(p.prev, p.new, temp, dense_chunk) for p in pairs])
    bf = torch.cat([dense_flow(p.new, p.prev, temp, dense_chunk) for p in pairs])
  return ClipTracks(tracks, visible, fb, ff, bf)
