"""model.json, the model card the server reads next to the .onnx files.

Layout (format "causaltap-model/1"); every key is written by `model_card`:

  name, description, format, format_version, created, families
  input        {height, width, channels "RGB", layout "NCHW", dtype, range, normalisation, scale, offset, resize}
  coordinates  raster convention of every point tensor, and what the engine converts (nothing, see below)
  tapir        (when the model has TAPIR graphs) preset, config, graphs {encoder, query, step: file, sha256,
               inputs, outputs, dynamic_axes, ops}, state {floats_per_point, layout, initial, reset}, visibility,
               stride / grid sizes
  gmrw         (when the model has GMRW graphs) preset, config, sampling, graphs {gmrw_encoder, gmrw_match},
               fb_threshold_px, occlusion rule, online call pattern
  provenance   {source: "checkpoint" | "random-init" | "training", file, sha256, ...}
  export       {opset, exporter (torch version), onnx version, tool}
"""
from __future__ import annotations

import dataclasses
import datetime
import json
import os
from pathlib import Path
from typing import Dict, Mapping, Optional

from .graphs import GMRW_POINT_AXIS, TAPIR_POINT_AXIS
from .onnx_export import OPSET, GraphInfo, sha256_file

FORMAT = "causaltap-model/1"
FORMAT_VERSION = 1
VISIBILITY_RULE = "(1 - sigmoid(occlusion_logit)) * (1 - sigmoid(expected_dist_logit)) > 0.5"

INPUT_SECTION_NOTE = ("One frame tensor feeds every encoder of the directory (encoder.onnx and gmrw_encoder.onnx): "
                      "resize the RGB8 image to height x width (bilinear, half-pixel centres), v = p / 127.5 - 1, "
                      "planes R, G, B.")

COORDINATES = {
    "order": "(x, y)",
    "units": "model pixels (the input height x width)",
    "convention": "raster: (0, 0) is the top-left corner of the top-left pixel; pixel (row i, col j) covers "
                  "[j, j+1) x [i, i+1), its centre is (j + 0.5, i + 0.5)",
    "to_image": "x_image = x_model * image_width / width, y_image = y_model * image_height / height",
    "gmrw_native": "GMRW's own code puts integer coordinates at pixel centres (index convention); gmrw_match "
                   "subtracts 0.5 from its points and adds 0.5 to its outputs, so the graph interface is raster "
                   "like the TAPIR graphs and the engine converts nothing",
}


def _config_dict(config) -> dict:
    d = dataclasses.asdict(config)
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in d.items()}


def tapir_section(model, infos: Mapping[str, GraphInfo], preset: Optional[str]) -> dict:
    cfg = model.config
    h, w = cfg.resolution
    return {
        "preset": preset or cfg.name,
        "config": _config_dict(cfg),
        "graphs": {k: v.as_dict() for k, v in infos.items()},
        "point_axis": TAPIR_POINT_AXIS,
        "grids": {"lowres": [cfg.lowres_dim, h // cfg.lowres_stride, w // cfg.lowres_stride],
                  "hires": [cfg.hires_dim, h // cfg.hires_stride, w // cfg.hires_stride]},
        "state": {
            "floats_per_point": cfg.state_floats_per_point,
            "bytes_per_point": 4 * cfg.state_floats_per_point,
            "layout": {"conv1": [cfg.num_pips_iter, cfg.num_mixer_blocks, cfg.state_steps, cfg.mixer_hidden_dim],
                       "conv2": [cfg.num_pips_iter, cfg.num_mixer_blocks, cfg.state_steps,
                                 cfg.mixer_expansion * cfg.mixer_hidden_dim],
                       "order": "per row: conv1 then conv2, each C order; steps oldest first"},
            "initial": "zeros",
            "reset": "zero a point's row when the point is added (or its slot re-used); other rows are untouched",
        },
        "visibility": {"rule": VISIBILITY_RULE, "threshold": 0.5},
        "online": ["frame -> encoder -> (lowres, hires)",
                   "new points: query(lowres, hires, points) -> query features (kept per point); zero state rows",
                   "every frame, including the query frame: step(lowres, hires, query features, state) -> "
                   "position, occlusion_logit, expected_dist_logit, new_state (feed new_state back)"],
        "previous_estimate": "none: stage 1 re-detects every point on the whole frame; temporal context is in the state",
    }


def gmrw_section(model, infos: Mapping[str, GraphInfo], preset: Optional[str], sampling: str,
                 image_hw) -> dict:
    cfg = model.config
    h, w = image_hw
    s = cfg.feature_stride
    return {
        "preset": preset,
        "config": _config_dict(cfg),
        "sampling": sampling,
        "graphs": {k: v.as_dict() for k, v in infos.items()},
        "point_axis": GMRW_POINT_AXIS,
        "features": [cfg.feature_channels, h // s, w // s],
        "fb_threshold_px": cfg.fb_threshold_px,
        "occlusion": "occluded where fb_error >= fb_threshold_px (model pixels)",
        "online": ["frame -> gmrw_encoder -> gmrw_features (keep the previous frame's)",
                   "every new frame: gmrw_match(prev_features, new_features, points in the previous frame) -> "
                   "forward (new positions), backward, fb_error; the pair transformer runs inside gmrw_match"],
        "normalisation_inside": ("graph maps v -> p = (v + 1) * 127.5, then "
                                 + ("(p / 255 - mean) / std" if cfg.norm else
                                    "(p - mean) / std (official evaluation: p not divided by 255)")
                                 + ", ImageNet mean/std"),
    }


def model_card(name: str, description: str, image_hw, tapir: Optional[dict] = None, gmrw: Optional[dict] = None,
               provenance: Optional[dict] = None) -> dict:
    """The model.json dictionary; `tapir` / `gmrw` are `tapir_section` / `gmrw_section` results."""
    import onnx
    import torch

    if tapir is None and gmrw is None:
        raise ValueError("a model card needs at least one family (tapir or gmrw)")
    h, w = image_hw
    card = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "name": name,
        "description": description,
        "created": datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat(),
        "families": [f for f, sec in (("tapir", tapir), ("gmrw", gmrw)) if sec is not None],
        "input": {
            "height": h, "width": w, "channels": "RGB", "layout": "NCHW", "shape": [1, 3, h, w], "dtype": "float32",
            "range": [-1.0, 1.0], "normalisation": "v = p / 127.5 - 1 (p = 8-bit value)", "scale": 1 / 127.5,
            "offset": -1.0, "resize": "bilinear, half-pixel centres, no antialiasing", "note": INPUT_SECTION_NOTE,
        },
        "coordinates": COORDINATES,
    }
    if tapir is not None:
        card["tapir"] = tapir
    if gmrw is not None:
        card["gmrw"] = gmrw
    card["provenance"] = provenance or {"source": "unknown"}
    card["export"] = {"opset": OPSET, "exporter": f"torch {torch.__version__} torch.onnx.export",
                      "onnx": onnx.__version__, "tool": "causaltap_training.export"}
    return card


def write_model_card(out_dir: Path, card: dict) -> Path:
    """Writes model.json (after checking that every graph's sha256 matches its file)."""
    out_dir = Path(out_dir)
    for family in card.get("families", []):
        for gname, graph in card[family]["graphs"].items():
            actual = sha256_file(out_dir / graph["file"])
            if actual != graph["sha256"]:
                raise RuntimeError(f"{graph['file']}: sha256 {actual} differs from the exported {graph['sha256']}")
    path = out_dir / "model.json"
    path.write_text(json.dumps(card, indent=2) + "\n")
    return path


def verify_model_dir(out_dir: Path) -> Dict[str, str]:
    """Checks model.json against the files; returns {file: sha256}; raises on a mismatch or a missing file."""
    out_dir = Path(out_dir)
    card = json.loads((out_dir / "model.json").read_text())
    files = {}
    for family in card["families"]:
        for graph in card[family]["graphs"].values():
            path = out_dir / graph["file"]
            if not path.exists():
                raise FileNotFoundError(f"{path} is listed in model.json but missing")
            digest = sha256_file(path)
            if digest != graph["sha256"]:
                raise RuntimeError(f"{path}: sha256 {digest} != model.json {graph['sha256']}")
            files[graph["file"]] = digest
    return files


# ----------------------------------------------------------------------------------------------- training history
TRAINING_DIR = Path(__file__).resolve().parents[2]
_STAGE_MODULES = {"supervised": "causaltap_training.train.supervised", "bootstap": "causaltap_training.train.bootstap"}
_NOT_IN_COMMAND = ("out", "resume", "max_minutes", "init")  # how a session ran, not what the stage is


def read_jsonl(path: Path) -> list:
    """The records of a train.jsonl / val.jsonl; [] when the file does not exist."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def wall_minutes(log: list) -> float:
    """Wall time of a train.jsonl: `elapsed_min` restarts at each --resume, so the segments are added up."""
    total, segment = 0.0, 0.0
    for rec in log:
        if rec["elapsed_min"] < segment:
            total += segment
        segment = rec["elapsed_min"]
    return total + segment


def _command(kind: str, args: dict, run: Path, init_from: Optional[str]) -> str:
    flags = [f"--{k.replace('_', '-')} {v}" for k, v in args.items()
             if k not in _NOT_IN_COMMAND and v is not None and not isinstance(v, bool)]  # (0 == False: keep --seed 0)
    flags += [f"--{k.replace('_', '-')}" for k, v in args.items() if v is True and k not in _NOT_IN_COMMAND]
    if init_from:
        flags.insert(0, f"--init {init_from}")
    out = os.path.relpath(Path(run).resolve(), TRAINING_DIR)
    return (f"cd training && /usr/bin/python3 -m {_STAGE_MODULES.get(kind, kind)} {' '.join(flags)} --out {out}")


def _resolve_checkpoint(init_from: str, run: Path) -> Path:
    """init_from as written by the CLI (relative to training/), absolute, or relative to the run folder."""
    p = Path(init_from)
    candidates = [p] if p.is_absolute() else [TRAINING_DIR / p, run / p, run.parent / p]
    for c in candidates:
        if (c.parent / "config.json").exists():
            return c
    raise FileNotFoundError(f"{run}: init_from {init_from} does not lead to a run folder (no config.json next to it)")


def _stage(run: Path, config: dict, until_step: Optional[int]) -> dict:
    kind = config.get("kind", "supervised")
    args = config.get("args", {})
    log = read_jsonl(run / "train.jsonl")
    val = read_jsonl(run / "val.jsonl")
    if until_step is None:  # the stage the caller asked about: where it is now
        steps = None
        if (run / "last.pt").exists():
            import torch

            steps = int(torch.load(run / "last.pt", map_location="cpu")["step"])
        if steps is None:
            steps = max([r["step"] for r in log + val], default=0)
    else:  # a parent stage: up to the checkpoint its child started from
        steps = int(until_step)
    # A supervised --init continuation carries on its parent's step count, so its own records start after the
    # parent's step; a bootstap run counts its own steps from 0.
    first = int(config.get("init_from_step") or 0) if kind == "supervised" else 0
    log = [r for r in log if first < r["step"] <= steps]
    val = [r for r in val if first < r["step"] <= steps]
    if kind == "supervised":
        data = {"generator": "causaltap_training.data.synthetic (seeded; training seed family)",
                "seed": args.get("seed"), "frames_per_clip": args.get("frames"), "size": args.get("size"),
                "points_per_clip": args.get("points"), "batch": args.get("batch"),
                "real_textures": not args.get("no_real_textures", False)}
    else:
        data = dict(config.get("data", {}))
        data.update({"frames_per_clip": args.get("frames"), "points_per_clip": args.get("points"),
                     "batch": args.get("batch"), "synthetic_weight": args.get("synthetic_weight")})
    last_val = {k: v for k, v in val[-1].items() if k != "all"} if val else None
    return {"kind": kind, "run": os.path.relpath(Path(run).resolve(), TRAINING_DIR), "command": _command(kind, args, run, config.get("init_from")),
            "init_from": config.get("init_from"), "init_from_step": config.get("init_from_step"), "data": data,
            "steps": steps, "wall_minutes": round(wall_minutes(log), 2), "seed": args.get("seed"),
            "last_val": last_val}


def training_history(run_dir) -> list:
    """One entry per training stage that led to `run_dir`'s weights, oldest first.

    Follows `init_from` in each run's config.json (the checkpoint a bootstap run started from; supervised runs have
    none: they are the first stage, and a resumed run's config.json holds its latest arguments). Each entry: kind
    (supervised / bootstap), run, command (rebuilt from the arguments, without --resume / --max-minutes), init_from,
    data, steps (for a parent stage: the step of the checkpoint its child started from; for `run_dir`: last.pt's
    step), wall_minutes (up to those steps, resume segments added), seed, last_val (the last validation record up to
    those steps, without the per-threshold details).
    """
    stages = []
    run: Optional[Path] = Path(run_dir)
    until_step = None
    seen = set()
    while run is not None:
        if run.resolve() in seen:
            raise ValueError(f"init_from links loop at {run}")
        seen.add(run.resolve())
        config = json.loads((run / "config.json").read_text())
        stages.append(_stage(run, config, until_step))
        init = config.get("init_from")
        if not init:
            break
        until_step = config.get("init_from_step")
        run = _resolve_checkpoint(init, run).parent
    return stages[::-1]
