"""Turns a training run into a model directory the server loads, with its model card filled from the run.

    cd training
    /usr/bin/python3 -m causaltap_training.export.bundle --run ../runs/cpu_sup1 --out ../models/causaltap-default \
        --name causaltap-default --default --eval ../runs/data/synthetic_val/12f_256px::"make_synthetic --validation ..." \
        --eval ../../shared/data/tapvid_davis32_dev
    # TAPIR graphs from --run and GMRW graphs from a train.gmrw_train run in one directory:
    /usr/bin/python3 -m causaltap_training.export.bundle --run ../runs/cpu_sup1 --gmrw-run ../runs/gmrw1 \
        --out ../runs/trial_fused --name trial-fused

The card records what a reader needs to reproduce and judge the weights: the exact training command, data,
seed, steps, wall time and hardware (from the run's config.json / train.jsonl / val.jsonl), and the TAP-Vid
metrics that `causaltap eval` (the C# engine, the authoritative scorer) prints for each --eval folder, with the
command that produced them.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Optional

from . import export_model
from .card import read_jsonl, training_history, wall_minutes
from .runner import CLI_DLL, REPO_ROOT, _env, check_available, cpu_name


def _session_summary(args: dict, checkpoint: Path, step: int, run: Path) -> dict:
    """The entries every provenance ends with, read from the run's train.jsonl / val.jsonl: where it stopped, how
    long it trained (resume segments added), on what hardware, and its last log records."""
    train_log = read_jsonl(run / "train.jsonl")
    val_log = read_jsonl(run / "val.jsonl")
    return {
        "steps": step,
        "wall_time_min": round(wall_minutes(train_log), 1),
        "hardware": f"{cpu_name()}, {args.get('threads')} torch threads, device {args.get('device')}",
        "checkpoint": checkpoint.name,
        "resumed_segments": 1 + sum(b["elapsed_min"] < a["elapsed_min"] for a, b in zip(train_log, train_log[1:])),
        "last_train_log": train_log[-1] if train_log else None,
        "synthetic_validation_during_training": val_log[-1] if val_log else None,
    }


def training_provenance(run: Path, checkpoint: Path, step: int) -> dict:
    """What the run did, read from its own files (never typed by hand)."""
    config = json.loads((run / "config.json").read_text())
    args = config["args"]
    # --max-minutes only cuts a session short (each --resume segment had its own); where the run stopped is
    # recorded as "steps" below. Data and learning rate are functions of the step, so the command plus that
    # step count reproduce the weights.
    # Every stage that led here (supervised, continuations, BootsTAP), oldest first, each with its own command.
    stages = training_history(run)
    kind = config.get("kind", "supervised")
    return {
        "source": "trained here",
        "stage": {"supervised": "supervised on synthetic clips (causaltap_training.data.synthetic), TAPIR losses",
                  "bootstap": "BootsTAP self-training on unlabeled real video (EMA teacher, student views) "
                              "co-trained with the synthetic supervised loss"}.get(kind, kind),
        "command": f"{stages[-1]['command']} (stopped at step {step} of the {args.get('steps')}-step schedule; "
                   "sessions continue with --resume)",
        "stages": stages,
        "data": {"generator": "causaltap_training.data.synthetic (seeded; training seed family)",
                 "seed": args.get("seed"), "frames_per_clip": args.get("frames"), "size": args.get("size"),
                 "points_per_clip": args.get("points"), "batch": args.get("batch"),
                 "real_textures_from": "../shared/data clips except the DAVIS dev split"},
        **_session_summary(args, checkpoint, step, run),
    }


def gmrw_provenance(run: Path, checkpoint: Path, step: int) -> dict:
    """What a train.gmrw_train run did, read from its own files (config.json, train.jsonl, val.jsonl)."""
    config = json.loads((run / "config.json").read_text())
    args = config["args"]
    skip = ("out", "resume", "max_minutes", "frame_store", "data_root", "val_dir")
    flags = " ".join(f"--{k.replace('_', '-')} {' '.join(map(str, v)) if isinstance(v, list) else v}"
                     for k, v in args.items()
                     if k not in skip and v not in (None, False) and v is not True and v != [])
    flags += "".join(f" --{k.replace('_', '-')}" for k, v in args.items() if v is True and k not in skip)
    out = os.path.relpath(run.resolve(), REPO_ROOT / "training")
    return {
        "source": "trained here",
        "stage": "self-supervised contrastive random walk with label warping + edge-aware smoothness "
                 "(causaltap_training.train.gmrw_train; no labels)",
        "command": f"cd training && /usr/bin/python3 -m causaltap_training.train.gmrw_train {flags} --out {out} "
                   f"(stopped at step {step} of the {args.get('steps')}-step schedule; sessions continue with --resume)",
        "data": {"synthetic": "causaltap_training.data.synthetic clips (tracks unused), training seed family",
                 "real": f"unlabeled videos under ../shared/data/{{{','.join(args.get('real_dirs') or [])}}} "
                         f"(never tapvid_davis32_dev), share {args.get('real_fraction')}",
                 "seed": args.get("seed"), "clip_len": args.get("clip_len"), "size": args.get("size"),
                 "batch": args.get("batch")},
        **_session_summary(args, checkpoint, step, run),
    }


def run_eval(model_dir: Path, spec: str, method: Optional[str] = None) -> dict:
    """`causaltap eval DATASET --model DIR [--method M] --json` through the C# engine; returns the command and its JSON.

    `spec` is a dataset folder, optionally followed by `::` and how that folder was made (recorded verbatim, so
    a reader can rebuild a generated dataset, e.g. the synthetic validation set).
    """
    folder, _, made_by = spec.partition("::")
    dataset = Path(folder)
    check_available()
    with_method = ["--method", method] if method else []
    cmd = ["dotnet", str(CLI_DLL), "eval", str(dataset), "--model", str(model_dir), *with_method, "--json"]
    done = subprocess.run(cmd, capture_output=True, text=True, env=_env(), timeout=3600)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr}{done.stdout}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    # Paths as seen from the repository root, where ./causaltap runs.
    where = os.path.relpath(dataset.resolve(), REPO_ROOT)
    entry = {"command": " ".join(["./causaltap", "eval", where, "--model", os.path.relpath(model_dir.resolve(), REPO_ROOT),
                                  *with_method, "--json"]),
             "dataset": where,
             "result": result}
    if method:
        entry["method"] = method
    if made_by:
        entry["dataset_made_by"] = made_by
    return entry


def describe_stages(stages: list, teacher: bool) -> str:
    """One line for the card: each kind of stage in order with the steps it ran itself. A supervised continuation
    counts steps on from its parent, so its own steps are the difference; a bootstap run counts from 0."""
    phrases, last_supervised = [], 0
    for st in stages:
        steps = int(st["steps"] or 0)
        if st["kind"] == "supervised":
            own, last_supervised = steps - last_supervised, steps
            phrases.append(("supervised on synthetic clips", own))
        else:
            phrases.append(("BootsTAP self-training on unlabeled real video co-trained with synthetic", steps))
    merged = []  # consecutive stages of one kind: "800 + 1500 steps"
    for text, steps in phrases:
        if merged and merged[-1][0] == text:
            merged[-1][1].append(steps)
        else:
            merged.append((text, [steps]))
    line = ", then ".join(f"{text} ({' + '.join(str(n) for n in steps)} steps)" for text, steps in merged)
    return line + ("; EMA teacher exported" if teacher else "")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", type=Path, help="TAPIR training run folder (config.json, last.pt, logs)")
    ap.add_argument("--checkpoint", type=Path, help="default: RUN/last.pt")
    ap.add_argument("--weights", choices=("student", "teacher"), default="student",
                    help="for a bootstap run: export the student or its EMA teacher")
    ap.add_argument("--gmrw-run", type=Path, help="GMRW run folder (train.gmrw_train): adds gmrw_encoder/gmrw_match")
    ap.add_argument("--gmrw-checkpoint", type=Path, help="default: GMRW_RUN/last.pt")
    ap.add_argument("--gmrw-sampling", default="feature", choices=("feature", "flow"),
                    help="GMRW matcher convention of the exported gmrw_match (feature: one transition row per point)")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--name", required=True)
    ap.add_argument("--description", default=None)
    ap.add_argument("--default", action="store_true", help="mark as the model commands use when none is named")
    ap.add_argument("--size", type=int, default=None,
                    help="export at SIZE x SIZE model input instead of the run's training resolution (the network "
                         "is fully convolutional; larger is more precise and slower: check with causaltap bench)")
    ap.add_argument("--eval", action="append", default=[],
                    help="TAP-Vid npz folder to score, optionally 'DIR::how it was made' (repeatable)")
    args = ap.parse_args(argv)

    import torch

    from ..train.supervised import load_model

    if args.run is None and args.gmrw_run is None:
        ap.error("give --run (TAPIR) and/or --gmrw-run (GMRW)")
    torch.set_num_threads(2)
    model = gmrw = None
    provenance, parts = {}, []
    if args.run is not None:
        checkpoint = args.checkpoint or args.run / "last.pt"
        step = int(torch.load(checkpoint, map_location="cpu")["step"])
        if args.weights == "teacher":
            from ..train.bootstap import load_teacher

            model = load_teacher(checkpoint).eval()
        else:
            model = load_model(checkpoint).eval()
        provenance["tapir"] = training_provenance(args.run, checkpoint, step)
        if args.weights == "teacher":
            provenance["tapir"]["weights"] = "the EMA teacher of the bootstap checkpoint"
        parts.append(f"TAPIR-family '{model.config.name}' preset for CPU: " + describe_stages(
            provenance["tapir"]["stages"], args.weights == "teacher"))
        trained_at = int(model.config.resolution[0])
        size = args.size or trained_at
        parts[-1] += f"; {size}x{size} input"
        if size != trained_at:
            provenance["tapir"]["exported_resolution"] = (f"{size}x{size} (trained at "
                                                          f"{trained_at}x{trained_at}; bundle --size {size})")
            parts[-1] += f" (trained at {trained_at}x{trained_at})"
    if args.gmrw_run is not None:
        from ..train.gmrw_train import load_model as load_gmrw

        gmrw_checkpoint = args.gmrw_checkpoint or args.gmrw_run / "last.pt"
        ck = torch.load(gmrw_checkpoint, map_location="cpu")
        gmrw_step = int(ck["step"])
        gmrw = load_gmrw(gmrw_checkpoint).eval()
        gmrw_preset = ck.get("preset")
        provenance["gmrw"] = gmrw_provenance(args.gmrw_run, gmrw_checkpoint, gmrw_step)
        parts.append(f"GMRW '{gmrw_preset}' preset, {gmrw_step} self-supervised random-walk steps")
    description = args.description or (" + ".join(parts) + " (measured quality: see evaluation)")
    # One family: the card's provenance is that run's (the layout older cards have); both: one entry per family.
    if len(provenance) == 1:
        provenance = next(iter(provenance.values()))
    else:
        provenance = {"source": "trained here", **provenance}
    card = export_model(args.out, args.name, description, tapir=model,
                        tapir_preset=model.config.name if model is not None else None,
                        gmrw=gmrw, gmrw_preset=gmrw_preset if gmrw is not None else None,
                        gmrw_sampling=args.gmrw_sampling,
                        size=(args.size, args.size) if args.size else None if model is not None else (256, 256),
                        provenance=provenance)
    if args.default:
        card["default"] = True
    card["evaluation"] = [run_eval(args.out, d) for d in args.eval]
    (args.out / "model.json").write_text(json.dumps(card, indent=2) + "\n")
    for e in card["evaluation"]:
        mean = e["result"].get("mean", {})
        print(f"{e['dataset']}: AJ {mean.get('average_jaccard')} delta_avg {mean.get('average_pts_within_thresh')} "
              f"OA {mean.get('occlusion_accuracy')}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
