"""GMRW (arXiv 2409.16288): GMFlow-style encoder + windowed self/cross attention transformer on a
frame pair + transition matrix A = softmax(F_t F_{t+1}^T / sqrt(C)), with an incremental matcher
that only evaluates the rows it needs. Parameter names equal the official state_dict keys.
`walk.py` holds the self-supervised training pieces (palindrome random walk, label warping, smoothness)."""
from .config import PRESETS, GMRWConfig, get_config
from .matching import (TransitionSummary, dense_flow, flow_to_image, point_flow, sample_index_bilinear,
                       transition_rows_at_cells, transition_summary)
from .model import (GMRW, FrameFeatures, MatchResult, OnlineState, PairFeatures, build_gmrw, load_official,
                    official_state_dict)
from .tracking import ClipTracks, clip_pair_features, track_clip

__all__ = [
    "PRESETS", "GMRWConfig", "get_config", "GMRW", "FrameFeatures", "PairFeatures", "MatchResult", "OnlineState",
    "build_gmrw", "load_official", "official_state_dict", "ClipTracks", "clip_pair_features", "track_clip",
    "TransitionSummary", "dense_flow", "flow_to_image", "point_flow", "sample_index_bilinear",
    "transition_rows_at_cells", "transition_summary",
]
