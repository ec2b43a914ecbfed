"""Supervised training of a TAPIR-family preset on synthetic clips, resumable, with TAP-Vid validation.

  cd training && /usr/bin/python3 -m causaltap_training.train.supervised --preset cpu --steps 5000 --batch 2 \
      --out ../runs/cpu_sup [--resume] [--frames 24 --points 64 --lr 5e-4 --max-minutes 30]

Writes into --out: `config.json` (run arguments + model config), `train.jsonl` (one line per --log-every steps:
losses, px error, lr, seconds/step), `val.jsonl` (TAP-Vid metrics on the fixed synthetic validation set every
--val-every steps), `last.pt` (every --ckpt-every steps and on exit: model, optimiser, step) and
`step_{N:07d}.pt` snapshots every --snapshot-every steps. --resume continues from last.pt; the data of step i is
a function of (seed, i) only, so a resumed run sees the same clips as an uninterrupted one.
The model trains in causal mode (`Tapir.forward(causal=True)`), as it runs online.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np
import torch

from ..data.dataset import SyntheticClips, load_clips, make_validation_set, to_tensors
from ..data.synthetic import SyntheticConfig
from ..tapir import Tapir, TapirConfig, preset, visible_prob
from . import metrics
from .losses import LossConfig, tapir_loss
from .run_folder import RunLog, args_dict, clear_logs, val_record

REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_VAL_DIR = REPO_ROOT / "runs" / "data" / "synthetic_val"


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="cpu")
    p.add_argument("--steps", type=int, required=True, help="total optimiser steps of the run")
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--resume", action="store_true")
    p.add_argument("--init", type=Path, default=None,
                   help="start from another run's checkpoint (model, optimiser and step: a continuation with new "
                        "arguments, e.g. a longer --steps schedule); recorded as init_from in config.json")
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--warmup", type=int, default=200)
    p.add_argument("--clip-grad", type=float, default=1.0)
    p.add_argument("--frames", type=int, default=24)
    p.add_argument("--size", type=int, default=256, help="square clip / model input side")
    p.add_argument("--points", type=int, default=64, help="tracks per training clip")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=1, help="DataLoader processes generating clips")
    p.add_argument("--no-real-textures", action="store_true", help="procedural textures only")
    p.add_argument("--no-augment", action="store_true")
    p.add_argument("--val-dir", type=Path, default=None,
                   help=f"validation clips (default {DEFAULT_VAL_DIR}/<frames>f_<size>px, made when missing)")
    p.add_argument("--val-clips", type=int, default=16)
    p.add_argument("--val-points", type=int, default=128)
    p.add_argument("--val-every", type=int, default=250)
    p.add_argument("--log-every", type=int, default=10)
    p.add_argument("--ckpt-every", type=int, default=50)
    p.add_argument("--snapshot-every", type=int, default=1000)
    p.add_argument("--max-minutes", type=float, default=0, help="stop (with a checkpoint) after this long; 0 = no limit")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--fixed-batch", action="store_true", help="train on batch 0 only (overfit check)")
    p.add_argument("--backbone", choices=("resnet", "xfeat"), default="resnet",
                   help="xfeat: frozen pretrained XFeat encoder (tapir/xfeat_tapir.py; --preset is ignored)")
    return p.parse_args(argv)


def model_config(args) -> TapirConfig:
    if getattr(args, "backbone", "resnet") == "xfeat":
        from ..tapir.xfeat_tapir import xfeat_config
        return xfeat_config(resolution=(args.size, args.size), causal=True)
    return preset(args.preset, resolution=(args.size, args.size), causal=True)


def build_model(cfg: TapirConfig) -> Tapir:
    """Tapir, or XFeatTapir (frozen pretrained encoder) for the xfeat configs."""
    if cfg.name.startswith("xfeat"):
        from ..backbones.xfeat import pretrained_dir
        from ..tapir.xfeat_tapir import XFeatTapir
        if pretrained_dir() is None:
            raise FileNotFoundError("../shared/pretrained/xfeat.onnx not found (set CAUSALTAP_SHARED)")
        return XFeatTapir(cfg, pretrained_dir() / "xfeat.onnx")
    return Tapir(cfg)


def lr_at(step: int, args) -> float:
    """Linear warm-up then cosine decay to 5% over --steps."""
    if step < args.warmup:
        return args.lr * (step + 1) / args.warmup
    frac = min(1.0, (step - args.warmup) / max(1, args.steps - args.warmup))
    return args.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * frac)))


def save_checkpoint(path: Path, model: Tapir, opt, step: int, args) -> None:
    """Atomic write (tmp + rename) of model, optimiser, step, model config and run arguments."""
    tmp = path.with_suffix(".tmp")
    torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "step": step,
                "model_config": dataclasses.asdict(model.config),
                "args": args_dict(args)}, tmp)
    os.replace(tmp, path)


def load_model(path: Path, map_location="cpu") -> Tapir:
    """A Tapir with the weights of a training checkpoint (its own config)."""
    ck = torch.load(path, map_location=map_location)
    cfg = ck["model_config"]
    cfg = TapirConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in cfg.items()})
    model = build_model(cfg)
    model.load_state_dict(ck["model"])
    return model


def collate(items: List[Dict[str, torch.Tensor]]) -> Dict[str, torch.Tensor]:
    return {k: torch.stack([it[k] for it in items]) for k in items[0]}


@torch.no_grad()
def evaluate(model: Tapir, clips, device, chunk: int = 64) -> Dict[str, float]:
    """TAP-Vid metrics (query_first, causal, no query snapping: what the online engine computes)."""
    model.eval()
    rows = []
    for clip in clips:
        t = to_tensors(clip)
        video = t["video"].unsqueeze(0).to(device)
        qp = t["query_points"]
        tracks, occ = [], []
        for s in range(0, qp.shape[0], chunk):
            traj = model(video, qp[s:s + chunk].unsqueeze(0).to(device), causal=True, snap_queries=False)
            tracks.append(traj.tracks[-1, 0].cpu())
            occ.append((visible_prob(traj.occlusion[-1, 0], traj.expected_dist[-1, 0]) <= 0.5).cpu())
        rows.append(metrics.tapvid_metrics(clip["query_points"], clip["occluded"], clip["target_points"],
                                           torch.cat(occ).numpy(), torch.cat(tracks).numpy(), "first"))
    model.train()
    return metrics.average(rows)


def train(args) -> Dict[str, float]:
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(args.seed)
    model = build_model(model_config(args)).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    step = 0
    last = out / "last.pt"
    if args.resume and last.exists():
        ck = torch.load(last, map_location=device)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        step = int(ck["step"])
        print(f"resumed from {last} at step {step}", flush=True)
    elif not args.resume:
        clear_logs(out)
    lineage = {}
    if args.init is not None:
        if args.resume and last.exists():  # a resumed continuation keeps the link it was started with
            lineage = {k: v for k, v in json.loads((out / "config.json").read_text()).items() if k.startswith("init_from")}
        else:
            ck = torch.load(args.init, map_location=device)
            model.load_state_dict(ck["model"])
            opt.load_state_dict(ck["optimizer"])
            step = int(ck["step"])
            # relative to training/ (where the commands run), like bootstap's init_from, whatever the cwd
            lineage = {"init_from": os.path.relpath(Path(args.init).resolve(), Path(__file__).resolve().parents[2]),
                       "init_from_step": step}
            print(f"initialised from {args.init} at step {step}", flush=True)
    (out / "config.json").write_text(json.dumps({"args": args_dict(args),
                                                 **lineage,
                                                 "model_config": dataclasses.asdict(model.config)}, indent=1))

    syn = SyntheticConfig(frames=args.frames, size=(args.size, args.size), num_points=args.points)
    data = SyntheticClips(args.seed, 10 ** 9, syn, augment=not args.no_augment,
                          use_real_textures=not args.no_real_textures)
    val_clips = []
    if args.val_clips > 0:
        val_syn = SyntheticConfig(frames=args.frames, size=(args.size, args.size))
        val_dir = args.val_dir or DEFAULT_VAL_DIR / f"{args.frames}f_{args.size}px"
        paths = make_validation_set(val_dir, args.val_clips, val_syn, not args.no_real_textures)
        val_clips = load_clips(paths, args.val_points)

    def batches(start: int):
        if args.fixed_batch:
            fixed = collate([data[i] for i in range(args.batch)])
            while True:
                yield fixed
        sampler = range(start * args.batch, 10 ** 9)
        kw = {"num_workers": args.workers, "prefetch_factor": 2} if args.workers else {}
        loader = torch.utils.data.DataLoader(data, batch_size=args.batch, sampler=sampler, collate_fn=collate, **kw)
        yield from loader

    run = RunLog(args)
    loss_cfg = LossConfig()
    result: Dict[str, float] = {}
    model.train()
    for batch in batches(step):
        if step >= args.steps:
            break
        for g in opt.param_groups:
            g["lr"] = lr_at(step, args)
        batch = {k: v.to(device) for k, v in batch.items()}
        traj = model(batch["video"], batch["query_points"], causal=True, snap_queries=True)
        losses = tapir_loss(traj, batch["target_points"], batch["occluded"], batch["query_points"], model.config, loss_cfg)
        opt.zero_grad(set_to_none=True)
        losses["loss"].backward()
        gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip_grad)
        opt.step()
        step += 1
        result = {k: float(v) for k, v in losses.items()}
        if run.log_due(step):
            run.log_train(step, {**result, "grad_norm": float(gnorm)}, lr_at(step - 1, args))
        stop = run.out_of_time()
        run.checkpoint(step, stop, lambda path: save_checkpoint(path, model, opt, step, args))
        if val_clips and run.val_due(step, stop):
            run.append_val(val_record(step, evaluate(model, val_clips, device)))
        if stop:
            run.print_stop(step)
            break
    return result


def main(argv=None) -> int:
    train(parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
