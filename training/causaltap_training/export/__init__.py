"""ONNX export of the TAPIR-family and GMRW graphs, the model card (model.json) and an ONNX Runtime harness.

  export_model(out_dir, name, description, tapir=model, gmrw=model, size=(256, 256), provenance={...})

writes `encoder.onnx`, `query.onnx`, `step.onnx` (TAPIR family), `gmrw_encoder.onnx`, `gmrw_match.onnx` (GMRW) and
`model.json` into out_dir. Graph inputs/outputs: see `graphs` (names) and model.json (shapes, meaning).
`runner.onnx_run` runs a graph in ONNX Runtime through `causaltap onnx-run` (the C# binding).
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Optional, Tuple

from .card import model_card, verify_model_dir, write_model_card
from .graphs import (GMRW_ENCODER_IO, GMRW_MATCH_IO, TAPIR_ENCODER_IO, TAPIR_QUERY_IO, TAPIR_STEP_IO,
                     GmrwEncoderGraph, GmrwMatchGraph, TapirEncoderGraph, TapirQueryGraph, TapirStepGraph)
from .onnx_export import OPSET, GraphInfo, check_graph, export_gmrw, export_tapir, sha256_file

__all__ = [
    "export_model", "check_graph", "export_tapir", "export_gmrw", "model_card", "write_model_card", "verify_model_dir", "OPSET",
    "GraphInfo", "sha256_file", "TapirEncoderGraph", "TapirQueryGraph", "TapirStepGraph", "GmrwEncoderGraph",
    "GmrwMatchGraph", "TAPIR_ENCODER_IO", "TAPIR_QUERY_IO", "TAPIR_STEP_IO", "GMRW_ENCODER_IO", "GMRW_MATCH_IO",
]


def export_model(out_dir, name: str, description: str, tapir=None, gmrw=None, size: Optional[Tuple[int, int]] = None,
                 tapir_preset: Optional[str] = None, gmrw_preset: Optional[str] = None, gmrw_sampling: str = "flow",
                 provenance: Optional[dict] = None) -> dict:
    """Exports the given models' graphs and model.json into out_dir; returns the card.

    Args:
      tapir: a `tapir.Tapir` (its config.resolution is replaced by `size` when given).
      gmrw: a `gmrw.GMRW`.
      size: (H, W) model input; default the TAPIR resolution, else 256x256. Both families use the same input.
      gmrw_sampling: "flow" (official, up to 9 transition rows per point) or "feature" (one row per point).
      provenance: what the weights are (see card.py); recorded verbatim.
    """
    if tapir is None and gmrw is None:
        raise ValueError("nothing to export: give a TAPIR and/or a GMRW model")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if size is None:
        size = tuple(tapir.config.resolution) if tapir is not None else (256, 256)
    size = (int(size[0]), int(size[1]))
    from . import card as card_mod

    tapir_sec = gmrw_sec = None
    if tapir is not None:
        if tuple(tapir.config.resolution) != size:
            tapir.config = dataclasses.replace(tapir.config, resolution=size)
        infos = export_tapir(tapir, out_dir)
        tapir_sec = card_mod.tapir_section(tapir, infos, tapir_preset)
    if gmrw is not None:
        infos = export_gmrw(gmrw, out_dir, size, gmrw_sampling)
        gmrw_sec = card_mod.gmrw_section(gmrw, infos, gmrw_preset, gmrw_sampling, size)
    card = model_card(name, description, size, tapir_sec, gmrw_sec, provenance)
    write_model_card(out_dir, card)
    return card
