"""Self-supervised GMRW training pieces: contrastive random walk on palindromes with label warping, and the
edge-aware smoothness of the induced flow (GMRW, arXiv 2409.16288; random walk: Jabri et al., arXiv 2006.14613).

A clip t0..tT is seen in two views, each one spatial transform of every frame (random crop / zoom / rotation /
flip, `random_view`). The walk goes forward through view a (t0 -> tT) and back through view b
(tT -> ... -> t0, the first backward step crosses from view a's tT to view b's tT-1), every step being the
model's own transition A = softmax(F_src F_tgt^T / temperature) of the frame pair's transformer features. The
round trip of feature cell i of view a should end on the cell of view b that shows the same scene point
(`warped_targets`: "label warping"; a walk through two identical views would end on i itself, which position
encodings alone could achieve). Cells whose target leaves view b are dropped. Pure tensor functions, no I/O.

Coordinates: views are described by 2x3 affine matrices from original-clip raster pixels to view raster pixels
((0, 0) = top-left corner of the top-left pixel). Feature cell (i, j) of a stride-s grid covers view pixels
[j*s, (j+1)*s) x [i*s, (i+1)*s); its centre is ((j + 0.5) s, (i + 0.5) s).
"""
from __future__ import annotations

import math
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from .matching import cell_grid

LOG_EPS = 1e-20  # floor inside the log of the round-trip probability


# ------------------------------------------------------------------------------------------------- views
def random_view(rng: np.random.Generator, size: int, min_scale: float = 0.6, max_rotation_deg: float = 10.0,
                flip_prob: float = 0.5) -> np.ndarray:
    """A random 2x3 affine from original raster pixels (size x size) to view raster pixels (size x size).

    The view shows a square crop of side scale*size (scale in [min_scale, 1]) somewhere inside the frame, rotated
    by up to max_rotation_deg and mirrored left-right with flip_prob, zoomed back to size x size.
    """
    scale = rng.uniform(min_scale, 1.0)
    side = scale * size
    cx = rng.uniform(side / 2, size - side / 2)
    cy = rng.uniform(side / 2, size - side / 2)
    angle = math.radians(rng.uniform(-max_rotation_deg, max_rotation_deg))
    zoom = size / side
    flip = -1.0 if rng.random() < flip_prob else 1.0
    c, s = math.cos(angle) * zoom, math.sin(angle) * zoom
    # view = R (orig - centre) * zoom, x optionally mirrored, + view centre
    lin = np.array([[flip * c, flip * s], [-s, c]], np.float64)
    off = np.array([size / 2, size / 2]) - lin @ np.array([cx, cy])
    return np.concatenate([lin, off[:, None]], axis=1)


def invert_affine(m: np.ndarray) -> np.ndarray:
    """Inverse of a 2x3 affine."""
    lin_inv = np.linalg.inv(m[:, :2])
    return np.concatenate([lin_inv, -(lin_inv @ m[:, 2:])], axis=1)


def warp_frames(frames: torch.Tensor, view: np.ndarray, out_hw: Sequence[int]) -> torch.Tensor:
    """Renders frames [T,3,H,W] (any range) in the view `view` (original raster -> view raster) -> [T,3,h,w].

    Bilinear, border padding. grid_sample with align_corners=False is exactly the raster convention.
    """
    t, _, h_in, w_in = frames.shape
    h, w = int(out_hw[0]), int(out_hw[1])
    inv = torch.as_tensor(invert_affine(view), dtype=frames.dtype)
    ys, xs = torch.meshgrid(torch.arange(h, dtype=frames.dtype) + 0.5, torch.arange(w, dtype=frames.dtype) + 0.5,
                            indexing="ij")
    src = torch.stack((xs, ys, torch.ones_like(xs)), dim=-1) @ inv.T  # [h,w,2] original raster
    grid = torch.stack((src[..., 0] / w_in * 2 - 1, src[..., 1] / h_in * 2 - 1), dim=-1)
    return F.grid_sample(frames, grid[None].expand(t, h, w, 2), mode="bilinear", padding_mode="border",
                         align_corners=False)


def warped_targets(view_a: np.ndarray, view_b: np.ndarray, feat_hw: Sequence[int], stride: int) -> torch.Tensor:
    """Label warping: for every feature cell of view a, the cell of view b showing the same original pixel.

    Returns [h*w] long, row-major flat cell index into view b's grid, -1 where that point is outside view b.
    """
    h, w = int(feat_hw[0]), int(feat_hw[1])
    centres = (cell_grid(h, w, dtype=torch.float64).numpy() + 0.5) * stride  # [N,2] view-a raster
    orig = centres @ invert_affine(view_a)[:, :2].T + invert_affine(view_a)[:, 2]
    in_b = orig @ view_b[:, :2].T + view_b[:, 2]
    cell = np.floor(in_b / stride).astype(np.int64)  # the cell whose area contains the point
    ok = (cell[:, 0] >= 0) & (cell[:, 0] < w) & (cell[:, 1] >= 0) & (cell[:, 1] < h)
    flat = np.where(ok, cell[:, 1] * w + cell[:, 0], -1)
    return torch.from_numpy(flat)


# ------------------------------------------------------------------------------------------------- walk
def transition_matrix(source: torch.Tensor, target: torch.Tensor, temperature: float) -> torch.Tensor:
    """Full A = softmax_rows(F_src^T F_tgt / temperature): source, target [B,C,h,w] -> [B,N,N], N = h*w."""
    logits = torch.matmul(source.flatten(2).transpose(1, 2), target.flatten(2)) / temperature
    return torch.softmax(logits, dim=-1)


def choose_rows(targets: torch.Tensor, max_rows: int, generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Start cells of the walk: per batch item up to max_rows random cells with a valid target.

    targets: [B,N] (-1 = dropped). Returns [B,S] long (S = min(max_rows, N)); where an item has fewer valid
    cells, the rest are invalid cells (the loss masks them).
    """
    scores = torch.rand(targets.shape, generator=generator).to(targets.device) + (targets >= 0).float()
    return torch.topk(scores, min(max_rows, targets.shape[1]), dim=1).indices


def round_trip(transitions: Sequence[torch.Tensor], rows: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Walk probabilities P = A_1 A_2 ... A_k restricted to the start rows: [B,S,N] (or [B,N,N] without rows)."""
    first = transitions[0]
    if rows is not None:
        first = torch.gather(first, 1, rows[..., None].expand(rows.shape + (first.shape[-1],)))
    walk = first
    for a in transitions[1:]:
        walk = torch.bmm(walk, a)
    return walk


def cycle_terms(transitions: Sequence[torch.Tensor], targets: torch.Tensor,
                rows: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, torch.Tensor]:
    """Cross-entropy of the round trip against the warped identity (mean over the kept start cells), and the
    share of kept start cells whose most likely round-trip end is their target (a diagnostic, no gradient).

    transitions: the walk's row-stochastic matrices [B,N,N] in order (forward through view a, back through b).
    targets: [B,N] long, warped_targets per item (-1 = dropped).
    rows: [B,S] start cells (choose_rows), default all cells.
    """
    b, n = targets.shape
    if rows is None:
        rows = torch.arange(n, device=targets.device)[None].expand(b, n)
    walk = round_trip(transitions, rows)  # [B,S,N]
    tgt = torch.gather(targets, 1, rows)  # [B,S]
    valid = tgt >= 0
    count = valid.sum().clamp(min=1)
    p = torch.gather(walk, 2, tgt.clamp(min=0)[..., None])[..., 0]
    nll = -torch.log(p.clamp(min=LOG_EPS))
    with torch.no_grad():
        acc = ((walk.argmax(dim=-1) == tgt) & valid).sum().float() / count
    return (nll * valid).sum() / count, acc


def cycle_loss(transitions: Sequence[torch.Tensor], targets: torch.Tensor,
               rows: Optional[torch.Tensor] = None) -> torch.Tensor:
    """The cross-entropy of `cycle_terms`."""
    return cycle_terms(transitions, targets, rows)[0]


# ------------------------------------------------------------------------------------------------- smoothness
def transition_flow(transition: torch.Tensor, feat_hw: Sequence[int]) -> torch.Tensor:
    """Soft-argmax flow of every cell in cells (dx, dy): [B,N,N] -> [B,h,w,2] (as matching.dense_flow)."""
    h, w = int(feat_hw[0]), int(feat_hw[1])
    grid = cell_grid(h, w, transition.device, transition.dtype)
    return (torch.matmul(transition, grid) - grid).view(transition.shape[0], h, w, 2)


def edge_aware_smoothness(flow: torch.Tensor, image: torch.Tensor, edge_weight: float = 10.0) -> torch.Tensor:
    """First-order edge-aware smoothness: mean over neighbours of exp(-edge_weight |dI|) |d flow|.

    flow: [B,h,w,2] (any unit); image: [B,3,H,W] in [0, 1] of the flow's source frame (area-downsampled to h x w,
    so edges are measured at the flow's resolution). Flow may change freely across image edges.
    """
    h, w = flow.shape[1:3]
    img = F.adaptive_avg_pool2d(image, (h, w))
    wx = torch.exp(-edge_weight * (img[..., :, 1:] - img[..., :, :-1]).abs().mean(1))  # [B,h,w-1]
    wy = torch.exp(-edge_weight * (img[..., 1:, :] - img[..., :-1, :]).abs().mean(1))  # [B,h-1,w]
    dx = (flow[:, :, 1:] - flow[:, :, :-1]).abs().sum(-1)
    dy = (flow[:, 1:, :] - flow[:, :-1, :]).abs().sum(-1)
    return (wx * dx).mean() + (wy * dy).mean()


def palindrome_transitions(model, view_a: torch.Tensor, view_b: torch.Tensor) -> List[torch.Tensor]:
    """The walk's transition matrices for clips seen in two views.

    view_a, view_b: [B,T,3,H,W] RGB in [0, 255]. Returns 2(T-1) matrices [B,N,N]: (a_t -> a_{t+1}) for
    t < T-1, then (a_{T-1} -> b_{T-2}), then (b_t -> b_{t-1}) down to b_0. Each comes from the pair transformer
    of its two frames (the transformer is symmetric, so a backward step reads the pair (b_{t-1}, b_t) reversed).
    The CNN runs once per frame.
    """
    b, t = view_a.shape[:2]
    if t < 2:
        raise ValueError("a palindrome walk needs at least 2 frames")
    temp = model.config.softmax_temperature
    feats = model.encode(torch.cat((view_a, view_b), dim=1).flatten(0, 1)).features
    feats = feats.view(b, 2 * t, *feats.shape[1:])
    fa, fb = feats[:, :t], feats[:, t:]
    out = []
    for i in range(t - 1):
        pair = model.pair(fa[:, i], fa[:, i + 1])
        out.append(transition_matrix(pair.prev, pair.new, temp))
    pair = model.pair(fa[:, t - 1], fb[:, t - 2])
    out.append(transition_matrix(pair.prev, pair.new, temp))
    for i in range(t - 2, 0, -1):
        pair = model.pair(fb[:, i - 1], fb[:, i])
        out.append(transition_matrix(pair.new, pair.prev, temp))
    return out
