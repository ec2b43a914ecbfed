"""Causal TAPIR / BootsTAPIR (tapnet torch architecture, official state_dict names) with explicit causal state.

Stages (one per ONNX graph): `Tapir.encode`, `Tapir.query_features`, `Tapir.step`; whole clips: `Tapir.forward`.
Sizes: `TapirConfig` and the presets in `config` (`bootstapir`, `tapir`, `small`, `tiny`, `cpu`, `cpu_fast`).
"""
from .config import PRESETS, TapirConfig, preset
from .model import FeatureGrids, QueryFeatures, StepOutput, Tapir, Trajectories, visible_prob
from .online import OnlineTracker, track_clip_online
from .state import CausalState

__all__ = [
    "PRESETS", "TapirConfig", "preset", "FeatureGrids", "QueryFeatures", "StepOutput", "Tapir", "Trajectories",
    "visible_prob", "OnlineTracker", "track_clip_online", "CausalState", "build",
]


def build(name_or_config="bootstapir", **overrides) -> Tapir:
    """A `Tapir` for a preset name (with optional field overrides) or a `TapirConfig`."""
    cfg = name_or_config if isinstance(name_or_config, TapirConfig) else preset(name_or_config, **overrides)
    return Tapir(cfg)
