"""The files every training loop writes into its --out folder, and its --max-minutes clock.

Shared by `supervised.py`, `bootstap.py` and `gmrw_train.py`, so the run folder has one layout (README.md):
`train.jsonl` (one record per --log-every steps), `val.jsonl` (one record per validation), `last.pt` (every
--ckpt-every steps, at the last step and when the time is up) and `step_{N:07d}.pt` snapshots (every
--snapshot-every steps). The run arguments read here: out, steps, log_every, ckpt_every, snapshot_every,
val_every, max_minutes.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable, Dict

VAL_KEYS = ("average_jaccard", "average_pts_within_thresh", "occlusion_accuracy")  # the headline TAP-Vid metrics


def args_dict(args) -> dict:
    """The run arguments as JSON values (paths as strings), for config.json and checkpoints."""
    return {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}


def clear_logs(out: Path) -> None:
    """A fresh run (not --resume) starts with empty train.jsonl and val.jsonl."""
    for name in ("train.jsonl", "val.jsonl"):
        (Path(out) / name).unlink(missing_ok=True)


def val_record(step: int, metrics: Dict[str, float]) -> dict:
    """A val.jsonl record: the headline metrics, then every metric under "all"."""
    return {"step": step, **{k: metrics[k] for k in VAL_KEYS}, "all": metrics}


class RunLog:
    """Logs, checkpoints and the time limit of one training session; create it when the step loop starts
    (the clock that `elapsed_min`, `sec_per_step` and --max-minutes measure starts here)."""

    def __init__(self, args, cpu_time: bool = False) -> None:
        self.args = args
        self.out = Path(args.out)
        self.cpu_time = cpu_time  # add cpu_sec_per_step (CPU seconds of this process) to train.jsonl
        self.t_start = self.t_last = time.time()
        self.cpu_last = time.process_time()

    def log_due(self, step: int) -> bool:
        return step % self.args.log_every == 0 or step == 1

    def log_train(self, step: int, numbers: Dict[str, float], lr: float) -> None:
        """Appends {"step", **numbers, "lr", "sec_per_step"[, "cpu_sec_per_step"], "elapsed_min"} to train.jsonl
        and prints it; per-step times are averages since the previous record."""
        now = time.time()
        per = self.args.log_every if step > 1 else 1
        rec = {"step": step, **numbers, "lr": lr, "sec_per_step": (now - self.t_last) / per}
        if self.cpu_time:
            rec["cpu_sec_per_step"] = (time.process_time() - self.cpu_last) / per
        rec["elapsed_min"] = (now - self.t_start) / 60
        self.t_last, self.cpu_last = now, time.process_time()
        with open(self.out / "train.jsonl", "a") as f:
            f.write(json.dumps(rec) + "\n")
        print(json.dumps(rec), flush=True)

    def out_of_time(self) -> bool:
        """True once --max-minutes (0: no limit) have passed since the loop started."""
        return bool(self.args.max_minutes) and (time.time() - self.t_start) / 60 >= self.args.max_minutes

    def checkpoint(self, step: int, stop: bool, save: Callable[[Path], None]) -> None:
        """Calls save(path) for last.pt and for a step_{N:07d}.pt snapshot when either is due."""
        a = self.args
        if step % a.ckpt_every == 0 or step == a.steps or stop:
            save(self.out / "last.pt")
        if a.snapshot_every and step % a.snapshot_every == 0:
            save(self.out / f"step_{step:07d}.pt")

    def val_due(self, step: int, stop: bool) -> bool:
        return step % self.args.val_every == 0 or step == self.args.steps or stop

    def append_val(self, rec: dict) -> None:
        """Appends a val.jsonl record and prints it without the "all" details."""
        with open(self.out / "val.jsonl", "a") as f:
            f.write(json.dumps(rec) + "\n")
        print("val", json.dumps({k: v for k, v in rec.items() if k != "all"}), flush=True)

    def print_stop(self, step: int) -> None:
        print(f"stopping after {self.args.max_minutes} minutes at step {step} (resume with --resume)", flush=True)
