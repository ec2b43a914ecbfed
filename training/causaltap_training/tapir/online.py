"""Frame-by-frame driver: the call pattern of tapnet's causal demos, with the state held explicitly here.

  tracker = OnlineTracker(model)
  tracker.add_points(model.encode(frame0), points)      # query features + zero state rows
  for frame in frames:
      out = tracker.track(model.encode(frame))          # every frame, including frame 0

The model stays state-free; this object owns the query features and the causal state (rows = point slots).
"""
from __future__ import annotations

from typing import List, Optional, Sequence

import torch

from . import state as causal_state
from .model import FeatureGrids, QueryFeatures, Tapir, Trajectories
from .state import CausalState


class OnlineTracker:
    """Tracks a changing set of points through a stream of frames with one `Tapir.step` per frame."""

    def __init__(self, model: Tapir) -> None:
        self.model = model
        self.query: Optional[QueryFeatures] = None
        self.state: Optional[CausalState] = None

    @property
    def num_points(self) -> int:
        return 0 if self.query is None else self.query.lowres.shape[0]

    def add_points(self, grids: FeatureGrids, points: torch.Tensor,
                   slots: Optional[Sequence[int]] = None) -> List[int]:
        """Adds points queried on the frame of `grids`.

        Args:
          grids: FeatureGrids of the query frame ([1, ...]).
          points: [K, 2] (x, y) raster pixels.
          slots: rows to overwrite (re-used slots); None appends K rows.

        Returns:
          The rows of the new points. Only their state rows are reset; the other points keep theirs.
        """
        new = self.model.query_features(grids, points)
        k = points.shape[0]
        if self.query is None:
            if slots is not None:
                raise ValueError("no points yet: slots cannot be re-used")
            self.query = new
            self.state = self.model.initial_state(k, device=points.device)
            return list(range(k))
        if slots is None:
            rows = list(range(self.num_points, self.num_points + k))
            self.query = QueryFeatures(torch.cat([self.query.lowres, new.lowres]),
                                       torch.cat([self.query.hires, new.hires]))
            self.state = causal_state.concat_rows(self.state, self.model.initial_state(k, device=points.device))
            return rows
        rows = list(slots)
        if len(rows) != k:
            raise ValueError(f"{k} points but {len(rows)} slots")
        index = torch.as_tensor(rows, dtype=torch.long, device=points.device)
        self.query = QueryFeatures(self.query.lowres.index_copy(0, index, new.lowres),
                                   self.query.hires.index_copy(0, index, new.hires))
        self.state = causal_state.reset_rows(self.state, index)
        return rows

    def track(self, grids: FeatureGrids) -> Trajectories:
        """Advances every point by one frame; returns all stages (B=1, T=1) and keeps the new state."""
        if self.query is None:
            raise RuntimeError("add points before tracking")
        traj, self.state = self.model.step_trace(grids, self.query, self.state)
        return traj


def track_clip_online(model: Tapir, frames: torch.Tensor, points: torch.Tensor, query_frame: int = 0
                      ) -> Trajectories:
    """Runs a clip frame by frame from `query_frame` on, like the fixture / tapnet live demo.

    Args:
      frames: [T, 3, H, W] in [-1, 1].
      points: [N, 2] (x, y) raster pixels on `query_frame`.

    Returns:
      Trajectories with B=1 over frames query_frame..T-1 (per-frame results concatenated along time).
    """
    tracker = OnlineTracker(model)
    tracker.add_points(model.encode(frames[query_frame:query_frame + 1]), points)
    steps = [tracker.track(model.encode(frames[i:i + 1])) for i in range(query_frame, frames.shape[0])]
    return concat_time(steps)


def concat_time(steps: Sequence[Trajectories]) -> Trajectories:
    """Concatenates per-frame Trajectories along their time axis."""
    axes = Trajectories(3, 3, 3, 2, 3, 3)
    return Trajectories(*[torch.cat([getattr(s, f) for s in steps], dim=getattr(axes, f))
                          for f in Trajectories._fields])
