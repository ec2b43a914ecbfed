"""Transition matrix, soft-argmax flows and the sparse (per-point) matcher. Pure tensor functions.

Conventions (official GMRW, see shared/fixtures/gmrw/README.md):
  * Transition A = softmax_rows(F_src^T F_tgt / temperature); row i is the source cell
    (y_i, x_i), i = y_i*w + x_i; columns are target cells. Nothing is L2-normalised.
  * Feature-grid flow of a cell = sum_j A_ij (x_j, y_j) - (x_i, y_i): expected target cell minus
    the cell, in cells, (dx, dy); integer coordinates are cell centres.
  * Image-resolution flow = bilinear upsampling of the cell flow with align_corners=True, x scaled
    by W/w and y by H/h. It is read at a point with `bilinear_sample2d` semantics: integer = pixel
    centre (no -0.5 shift), corner indices clamped to the image, weights from the unclamped position.
  * Points are (x, y) in model pixels of the image the features come from.

The sparse matcher never builds the N x N matrix: for K points it evaluates only the rows of the
cells whose flows the official interpolation reads (at most 3 x 3 per point, `sampling="flow"`), or
one row of the bilinearly sampled feature (`sampling="feature"`, cheaper, not bit-compatible).
"""
from __future__ import annotations

from typing import NamedTuple, Sequence, Tuple

import torch
import torch.nn.functional as F

SAMPLINGS = ("flow", "feature")


def cell_grid(h: int, w: int, device=None, dtype=torch.float32) -> torch.Tensor:
  """[h*w, 2] (x, y) integer coordinates of the cells in row-major order."""
  ys, xs = torch.meshgrid(torch.arange(h, device=device), torch.arange(w, device=device), indexing="ij")
  return torch.stack((xs.reshape(-1), ys.reshape(-1)), dim=-1).to(dtype)


def transition_logits(rows: torch.Tensor, target: torch.Tensor, temperature: float) -> torch.Tensor:
  """rows [B,K,C] (source features), target [B,C,h,w] -> logits [B,K,h*w]."""
  return torch.matmul(rows, target.flatten(2)) / temperature


def transition_rows_at_cells(source: torch.Tensor, target: torch.Tensor, cells_yx: torch.Tensor,
                             temperature: float) -> torch.Tensor:
  """Rows of A for integer source cells.

  Args:
    source, target: [B,C,h,w] transformer features.
    cells_yx: [K,2] long, (y, x) source cells.
  Returns: [B,K,h,w] probabilities.
  """
  b, c, h, w = source.shape
  idx = (cells_yx[:, 0] * w + cells_yx[:, 1]).to(source.device)
  rows = source.flatten(2)[:, :, idx].transpose(1, 2)
  return torch.softmax(transition_logits(rows, target, temperature), dim=-1).view(b, -1, h, w)


def _gather_rows(source: torch.Tensor, flat_idx: torch.Tensor) -> torch.Tensor:
  """source [B,C,h,w], flat_idx [B,M] long -> [B,M,C]."""
  b, c = source.shape[:2]
  flat = source.flatten(2)  # [B,C,N]
  return torch.gather(flat, 2, flat_idx[:, None, :].expand(b, c, flat_idx.shape[1])).transpose(1, 2)


def expected_target(rows: torch.Tensor, target: torch.Tensor, temperature: float) -> torch.Tensor:
  """Soft-argmax of the transition rows of `rows` [B,M,C] against target [B,C,h,w] -> [B,M,2] (x, y) cells."""
  h, w = target.shape[-2:]
  probs = torch.softmax(transition_logits(rows, target, temperature), dim=-1)
  return torch.matmul(probs, cell_grid(h, w, target.device, probs.dtype))


def _axis_flow_taps(p: torch.Tensor, img_size: int, feat_size: int) -> Tuple[torch.Tensor, torch.Tensor]:
  """1-D weights of "upsample(align_corners=True) then bilinear_sample2d" at pixel coordinates p.

  value(p) = sum_o weight[..., o] * g[min(base + o, feat_size - 1)], o = 0, 1, 2, for any function g
  on the feature cells. Returns base [...] long and weight [..., 3].
  """
  if img_size < 2 or feat_size < 2:
    raise ValueError("image and feature axes need at least 2 samples")
  scale = (feat_size - 1) / (img_size - 1)
  p0 = torch.floor(p)
  frac = p - p0
  corners = ((p0.clamp(0, img_size - 1), 1.0 - frac), ((p0 + 1).clamp(0, img_size - 1), frac))
  base = torch.floor(corners[0][0] * scale)
  offsets = torch.arange(3, device=p.device, dtype=p.dtype)
  weight = torch.zeros(p.shape + (3,), device=p.device, dtype=p.dtype)
  for corner, omega in corners:
    u = corner * scale
    i0 = torch.floor(u)
    lam = u - i0
    i1 = (i0 + 1).clamp(max=feat_size - 1)
    weight = weight + (omega * (1.0 - lam))[..., None] * (offsets == (i0 - base)[..., None]).to(p.dtype)
    weight = weight + (omega * lam)[..., None] * (offsets == (i1 - base)[..., None]).to(p.dtype)
  return base.long(), weight


def _axis_feature_taps(p: torch.Tensor, img_size: int, feat_size: int) -> Tuple[torch.Tensor, torch.Tensor]:
  """1-D bilinear taps (clamped to the grid) at the align_corners position u = p*(s-1)/(S-1).

  Returns base [...] long and weight [..., 2] for cells min(base + o, feat_size - 1).
  """
  u = (p * ((feat_size - 1) / (img_size - 1))).clamp(0, feat_size - 1)
  base = torch.floor(u)
  lam = u - base
  return base.long(), torch.stack((1.0 - lam, lam), dim=-1)


def _separable_taps(points: torch.Tensor, image_hw: Sequence[int], feat_hw: Sequence[int], taps_fn):
  """Combines per-axis taps into flat cell indices [B,K,T], weights [B,K,T], cell (x, y) [B,K,T,2]."""
  (img_h, img_w), (h, w) = image_hw, feat_hw
  bx, wx = taps_fn(points[..., 0], img_w, w)
  by, wy = taps_fn(points[..., 1], img_h, h)
  n = wx.shape[-1]
  off = torch.arange(n, device=points.device)
  cx = (bx[..., None] + off).clamp(0, w - 1)  # [B,K,n]
  cy = (by[..., None] + off).clamp(0, h - 1)
  flat = (cy[..., :, None] * w + cx[..., None, :]).flatten(-2)  # [B,K,n*n], y outer
  weight = (wy[..., :, None] * wx[..., None, :]).flatten(-2)
  xy = torch.stack((cx[..., None, :].expand(cx.shape + (n,)),
                    cy[..., :, None].expand(cy.shape + (n,))), dim=-1).flatten(-3, -2).to(points.dtype)
  return flat, weight, xy


def point_flow(source: torch.Tensor, target: torch.Tensor, points: torch.Tensor,
               image_hw: Sequence[int], temperature: float, sampling: str = "flow") -> torch.Tensor:
  """Image-resolution flow source -> target at K points, from K (x9) transition rows only.

  Args:
    source, target: [B,C,h,w] transformer features of the two frames.
    points: [B,K,2] (x, y) pixels of the source image (image_hw).
    sampling: "flow": the official convention (bilinear on the upsampled cell-flow field; exact,
      up to 9 rows per point). "feature": one row per point, the bilinearly sampled source feature
      at the align_corners position (an approximation for trained models).
  Returns: [B,K,2] (dx, dy) in pixels.
  """
  b, c, h, w = source.shape
  img_h, img_w = image_hw
  k = points.shape[1]
  if sampling == "flow":
    flat, weight, cell_xy = _separable_taps(points, image_hw, (h, w), _axis_flow_taps)
    rows = _gather_rows(source, flat.reshape(b, -1))  # [B,K*9,C]
    exp = expected_target(rows, target, temperature).view(b, k, -1, 2)
    flow = ((exp - cell_xy) * weight[..., None]).sum(dim=2)  # [B,K,2] cells
  elif sampling == "feature":
    flat, weight, _ = _separable_taps(points, image_hw, (h, w), _axis_feature_taps)
    rows = (_gather_rows(source, flat.reshape(b, -1)).view(b, k, -1, c) * weight[..., None]).sum(dim=2)
    # displacement from the (clamped) sampled cell position: off-image points move like the border
    u = torch.stack(((points[..., 0] * ((w - 1) / (img_w - 1))).clamp(0, w - 1),
                     (points[..., 1] * ((h - 1) / (img_h - 1))).clamp(0, h - 1)), -1)
    flow = expected_target(rows, target, temperature) - u
  else:
    raise ValueError(f"sampling must be one of {SAMPLINGS}, got {sampling!r}")
  return flow * torch.tensor([img_w / w, img_h / h], dtype=flow.dtype, device=flow.device)


def dense_flow(source: torch.Tensor, target: torch.Tensor, temperature: float, chunk: int = 1024) -> torch.Tensor:
  """Cell flow of every source cell (official `compute_flow(weighted_sum)`), rows in chunks.

  Returns [B,h,w,2] (dx, dy) cells. Memory O(chunk * h*w), never the full matrix (unless chunk >= N).
  """
  b, c, h, w = source.shape
  rows = source.flatten(2).transpose(1, 2)  # [B,N,C]
  grid = cell_grid(h, w, source.device, source.dtype)
  out = [expected_target(rows[:, s:s + chunk], target, temperature) - grid[s:s + chunk]
         for s in range(0, h * w, chunk)]
  return torch.cat(out, dim=1).view(b, h, w, 2)


def flow_to_image(flow_cells: torch.Tensor, image_hw: Sequence[int]) -> torch.Tensor:
  """[B,h,w,2] cell flow -> [B,2,H,W] pixel flow (align_corners=True upsampling, x*W/w, y*H/h)."""
  h, w = flow_cells.shape[1:3]
  img_h, img_w = image_hw
  up = F.interpolate(flow_cells.permute(0, 3, 1, 2), size=(img_h, img_w), mode="bilinear", align_corners=True)
  return up * torch.tensor([img_w / w, img_h / h], dtype=up.dtype, device=up.device).view(1, 2, 1, 1)


def sample_index_bilinear(image: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
  """Official `bilinear_sample2d`: image [B,C,H,W], points [B,K,2] (x, y) -> [B,K,C].

  Integer coordinates are pixel centres; corner indices are clamped, weights unclamped.
  """
  b, c, hh, ww = image.shape
  x, y = points[..., 0], points[..., 1]
  x0, y0 = torch.floor(x), torch.floor(y)
  x1, y1 = x0 + 1, y0 + 1
  flat = image.flatten(2)

  def tap(yy, xx):
    idx = (yy.clamp(0, hh - 1) * ww + xx.clamp(0, ww - 1)).long()
    return torch.gather(flat, 2, idx[:, None, :].expand(b, c, idx.shape[1])).transpose(1, 2)

  return (((x1 - x) * (y1 - y))[..., None] * tap(y0, x0) + ((x - x0) * (y1 - y))[..., None] * tap(y0, x1) +
          ((x1 - x) * (y - y0))[..., None] * tap(y1, x0) + ((x - x0) * (y - y0))[..., None] * tap(y1, x1))


class TransitionSummary(NamedTuple):
  """Per-row / per-column statistics of the full transition matrix (diagnostics, chunked).

  row_argmax: [B,h,w] long, flat target index y1*w + x1 of each source cell's row maximum.
  row_max: [B,h,w] the row maximum probability.
  row_top2_gap: [B,h,w] top-1 minus top-2 probability.
  col_sum: [B,h,w] sum over source cells of A (target-cell mass).
  flow: [B,h,w,2] soft-argmax cell flow (dx, dy), as dense_flow.
  """
  row_argmax: torch.Tensor
  row_max: torch.Tensor
  row_top2_gap: torch.Tensor
  col_sum: torch.Tensor
  flow: torch.Tensor


def transition_summary(source: torch.Tensor, target: torch.Tensor, temperature: float,
                       chunk: int = 512) -> TransitionSummary:
  """Statistics of A = softmax_rows(F_src^T F_tgt / temperature), computed `chunk` rows at a time."""
  b, c, h, w = source.shape
  rows = source.flatten(2).transpose(1, 2)
  grid = cell_grid(h, w, source.device, source.dtype)
  col_sum = torch.zeros(b, h * w, dtype=source.dtype, device=source.device)
  argmax, vmax, gap, flow = [], [], [], []
  for s in range(0, h * w, chunk):
    p = torch.softmax(transition_logits(rows[:, s:s + chunk], target, temperature), dim=-1)
    top = torch.topk(p, 2, dim=-1)
    argmax.append(top.indices[..., 0])
    vmax.append(top.values[..., 0])
    gap.append(top.values[..., 0] - top.values[..., 1])
    col_sum = col_sum + p.sum(dim=1)
    flow.append(torch.matmul(p, grid) - grid[s:s + chunk])
  shape = (b, h, w)
  return TransitionSummary(torch.cat(argmax, 1).view(shape), torch.cat(vmax, 1).view(shape),
                           torch.cat(gap, 1).view(shape), col_sum.view(shape),
                           torch.cat(flow, 1).view(b, h, w, 2))
