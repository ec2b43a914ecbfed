"""Training / validation clip sources on top of the synthetic generator.

Training clip `i` of run seed `s` is `generate((s, i))`; validation clip `j` is `generate((VAL_TAG, j))`, a
different seed family, so training never sees a validation clip (a run seed equal to VAL_TAG is refused).
Everything is deterministic in (seed, index), which makes resumed runs reproduce uninterrupted ones.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np
import torch

from .synthetic import SyntheticConfig, SyntheticGenerator, load_npz, save_npz

VAL_TAG = 0x7A11D  # first word of every validation seed


class SyntheticClips(torch.utils.data.Dataset):
    """Map-style dataset: index -> dict of tensors for one clip (generated on demand, optionally augmented).

    Items: video float32 [T, 3, H, W] in [-1, 1], query_points [N, 3] (t, y, x), target_points [N, T, 2],
    occluded bool [N, T].
    """

    def __init__(self, seed: int, length: int, config: SyntheticConfig, augment: bool = True,
                 use_real_textures: bool = True, data_root: Optional[Path] = None) -> None:
        if seed == VAL_TAG:
            raise ValueError("this seed is reserved for the validation set")
        self.seed = seed
        self.length = length
        self.config = config
        self.augment = augment
        self.use_real_textures = use_real_textures
        self.data_root = data_root
        self._gen: Optional[SyntheticGenerator] = None  # built lazily (per DataLoader worker)

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> Dict[str, torch.Tensor]:
        if self._gen is None:
            self._gen = SyntheticGenerator(self.config, self.data_root, self.use_real_textures)
        clip = self._gen.generate([self.seed, int(index)]).as_tapvid()
        if self.augment:
            from ..train.augment import augment_clip
            clip = augment_clip(clip, np.random.default_rng([self.seed, int(index), 1]))
        return to_tensors(clip)


def to_tensors(clip: Dict[str, np.ndarray]) -> Dict[str, torch.Tensor]:
    """TAP-Vid npz dict -> model tensors (video [T,3,H,W] in [-1, 1])."""
    video = torch.from_numpy(np.ascontiguousarray(clip["video"])).permute(0, 3, 1, 2).float() / 127.5 - 1
    return {"video": video, "query_points": torch.from_numpy(clip["query_points"].astype(np.float32)),
            "target_points": torch.from_numpy(clip["target_points"].astype(np.float32)),
            "occluded": torch.from_numpy(clip["occluded"].astype(bool))}


def make_validation_set(out_dir: Path, clips: int, config: SyntheticConfig = SyntheticConfig(),
                        use_real_textures: bool = True) -> List[Path]:
    """Writes the fixed validation clips `val_{j:04d}.npz` (seed (VAL_TAG, j)); existing files are kept."""
    out_dir = Path(out_dir)
    gen = SyntheticGenerator(config, use_real_textures=use_real_textures)
    paths = []
    for j in range(clips):
        p = out_dir / f"val_{j:04d}.npz"
        if not p.exists():
            save_npz(p, gen.generate([VAL_TAG, j]))
        paths.append(p)
    return paths


def load_clips(paths, max_points: Optional[int] = None) -> List[Dict[str, np.ndarray]]:
    """Loads TAP-Vid npz clips, keeping the first `max_points` tracks of each."""
    out = []
    for p in paths:
        d = load_npz(p)
        if max_points is not None:
            for k in ("query_points", "target_points", "occluded", "is_fg"):
                if k in d:
                    d[k] = d[k][:max_points]
        out.append(d)
    return out


def with_overrides(config: SyntheticConfig, **kw) -> SyntheticConfig:
    return dataclasses.replace(config, **{k: v for k, v in kw.items() if v is not None})
