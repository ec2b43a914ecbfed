"""Clip augmentation for training (numpy, on TAP-Vid dicts): flips and colour jitter, with exact track updates.

The generator already randomises geometry, lighting, blur, noise and JPEG; this adds the cheap label-preserving
transforms: horizontal / vertical flips (x -> W - x, y -> H - y in raster coordinates) and per-clip
brightness / contrast / saturation / channel-gain jitter.
"""
from __future__ import annotations

from typing import Dict

import numpy as np


def augment_clip(clip: Dict[str, np.ndarray], rng: np.random.Generator, flip_prob: float = 0.5,
                 jitter: float = 0.2) -> Dict[str, np.ndarray]:
    clip = dict(clip)
    video = clip["video"]
    t, h, w, _ = video.shape
    tracks = clip["target_points"].copy()
    query = clip["query_points"].copy()
    if rng.random() < flip_prob:
        video = video[:, :, ::-1]
        tracks[..., 0] = w - tracks[..., 0]
        query[:, 2] = w - query[:, 2]
    if rng.random() < flip_prob * 0.5:
        video = video[:, ::-1]
        tracks[..., 1] = h - tracks[..., 1]
        query[:, 1] = h - query[:, 1]
    if jitter > 0:
        v = video.astype(np.float32)
        gray = v.mean(-1, keepdims=True)
        sat = 1 + rng.uniform(-jitter, jitter)
        v = gray + sat * (v - gray)
        mean = v.mean()
        v = (v - mean) * (1 + rng.uniform(-jitter, jitter)) + mean * (1 + rng.uniform(-jitter, jitter))
        v = v * rng.uniform(1 - jitter / 2, 1 + jitter / 2, 3)
        video = np.clip(v + 0.5, 0, 255).astype(np.uint8)
    clip["video"] = np.ascontiguousarray(video)
    clip["target_points"] = tracks
    clip["query_points"] = query
    return clip
