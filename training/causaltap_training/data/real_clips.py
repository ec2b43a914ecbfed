"""Unlabeled real video for self-training (BootsTAP): a decode-once cache of resized frames and seeded windows.

    cache = RealClipCache.build(data_root, cache_dir, size=256)      # decodes what is not cached yet
    clips = RealClips(cache, frames=12, seed=0)
    clip = clips.window(index)    # {"video": uint8 [T, H, W, 3], "source", "domain", "start", "stride"}

Sources (under ../shared/data, see its README): `robot_real/*.mp4` (domain "real"), `robot_sim/*.mp4` (domain
"sim": robosuite renders, labelled so wherever they are used), `everyday_real/*.mp4` and the
`everyday_real/tum_rgbd_fr2_20f/*.jpg` folder (one clip). `umi_cup_in_the_wild_original.mp4` is skipped: it is the
concatenation of `umi_cup_fullframe.mp4` and the split-screen quadrants that are there as separate files (the
split-screen part would be a 2x2 mosaic after resizing).

The TAP-Vid-DAVIS development split (`tapvid_davis32_dev`) is never read: `assert_not_dev_set` raises on any path
inside it, and it is checked for the data root, every source file and every cache entry.

Frames are resized to size x size (the whole frame squashed, as the engine resizes every camera image to the model
input; INTER_AREA) and stored as `cache_dir/<source path with / -> __>.npy` (uint8 [F, H, W, 3], RGB), read with
memory mapping. `index.json` lists the entries (source, domain, frames, fps).

Window `index` of seed `s` is drawn from `numpy.random.default_rng([s, index, WINDOW_TAG])`: a source (chance
proportional to the square root of its frame count, so the long videos do not dominate), a stride (1-3 at ~30 fps,
1 for <= 15 fps sources, shrunk until the window fits) and a start frame. Everything is a function of (seed, index).
"""
from __future__ import annotations

import glob
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import cv2
import numpy as np

DEV_SET_NAME = "tapvid_davis32_dev"
WINDOW_TAG = 0xB0075  # third word of every window seed (keeps windows apart from other seeded streams)

# (glob under the data root, domain). The jpg folder is one clip.
SOURCES = (
    ("robot_real/*.mp4", "real"),
    ("robot_sim/*.mp4", "sim"),
    ("everyday_real/*.mp4", "real"),
    ("everyday_real/tum_rgbd_fr2_20f", "real"),
)
SKIP = ("umi_cup_in_the_wild_original.mp4",)


def assert_not_dev_set(path) -> None:
    """Raises ValueError when `path` is (inside) the TAP-Vid-DAVIS development split: it is for evaluation only."""
    parts = Path(os.path.abspath(str(path))).parts
    if any(DEV_SET_NAME in p for p in parts):
        raise ValueError(f"{path}: the TAP-Vid-DAVIS development split ({DEV_SET_NAME}) must never be used for "
                         "training")


@dataclass(frozen=True)
class CacheEntry:
    name: str          # cache file stem (source path relative to the data root, '/' -> '__')
    source: str        # source path relative to the data root
    domain: str        # "real" or "sim"
    frames: int
    fps: float

    def path(self, cache_dir: Path) -> Path:
        return Path(cache_dir) / f"{self.name}.npy"


def list_sources(data_root: Path) -> List[tuple]:
    """(path, domain) of every source under `data_root`, sorted, dev split excluded (and refused as the root)."""
    data_root = Path(data_root)
    assert_not_dev_set(data_root)
    out = []
    for pattern, domain in SOURCES:
        for p in sorted(glob.glob(str(data_root / pattern))):
            if Path(p).name in SKIP or DEV_SET_NAME in p:
                continue
            if os.path.isdir(p) and not glob.glob(os.path.join(p, "*.jpg")):
                continue
            assert_not_dev_set(p)
            out.append((Path(p), domain))
    return out


def _resize(img_bgr: np.ndarray, size: int) -> np.ndarray:
    return cv2.cvtColor(cv2.resize(img_bgr, (size, size), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)


def decode_source(path: Path, size: int) -> tuple:
    """All frames of a video file or a jpg folder, resized to size x size RGB uint8; returns (frames, fps)."""
    assert_not_dev_set(path)
    path = Path(path)
    frames = []
    if path.is_dir():
        for f in sorted(glob.glob(str(path / "*.jpg"))):
            img = cv2.imread(f)
            if img is not None:
                frames.append(_resize(img, size))
        fps = 10.0 if "tum_rgbd" in path.name else 30.0  # the TUM folder is every 3rd frame of 30 Hz (README)
    else:
        cap = cv2.VideoCapture(str(path))
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 30.0)
        while True:
            ok, img = cap.read()
            if not ok or img is None:
                break
            frames.append(_resize(img, size))
        cap.release()
    if not frames:
        raise RuntimeError(f"{path}: no frames decoded")
    return np.stack(frames), fps


class RealClipCache:
    """The decoded frames of every source (memory-mapped .npy files) and their index."""

    def __init__(self, cache_dir: Path, entries: Sequence[CacheEntry], size: int) -> None:
        self.cache_dir = Path(cache_dir)
        self.entries = list(entries)
        self.size = size
        for e in self.entries:
            assert_not_dev_set(e.source)
        self._arrays: Dict[str, np.ndarray] = {}

    @classmethod
    def build(cls, data_root: Path, cache_dir: Path, size: int = 256, include_sim: bool = True,
              verbose: bool = False) -> "RealClipCache":
        """Decodes every source not cached yet (atomic writes) and returns the cache over all of them."""
        data_root = Path(data_root)
        cache_dir = Path(cache_dir)
        cache_dir.mkdir(parents=True, exist_ok=True)
        index_path = cache_dir / "index.json"
        known = {}
        if index_path.exists():
            known = {e["name"]: CacheEntry(**e) for e in json.loads(index_path.read_text())["entries"]}
        entries = []
        for path, domain in list_sources(data_root):
            rel = os.path.relpath(path, data_root)
            name = rel.replace(os.sep, "__")
            entry = known.get(name)
            if entry is None or not entry.path(cache_dir).exists():
                frames, fps = decode_source(path, size)
                tmp = cache_dir / f"{name}.tmp.npy"
                np.save(tmp, frames)
                os.replace(tmp, cache_dir / f"{name}.npy")
                entry = CacheEntry(name, rel, domain, int(frames.shape[0]), fps)
                if verbose:
                    print(f"cached {rel}: {frames.shape[0]} frames ({domain})", flush=True)
            entries.append(entry)
            known[name] = entry
        index_path.write_text(json.dumps({"size": size, "entries": [vars(e) for e in known.values()]}, indent=1))
        if not include_sim:
            entries = [e for e in entries if e.domain != "sim"]
        if not entries:
            raise RuntimeError(f"no real video found under {data_root}")
        return cls(cache_dir, entries, size)

    def frames(self, entry: CacheEntry) -> np.ndarray:
        arr = self._arrays.get(entry.name)
        if arr is None:
            arr = np.load(entry.path(self.cache_dir), mmap_mode="r")
            self._arrays[entry.name] = arr
        return arr

    def describe(self) -> dict:
        """What the cache holds, for config.json / the model card."""
        return {"sources": [{"source": e.source, "domain": e.domain, "frames": e.frames, "fps": round(e.fps, 2)}
                            for e in self.entries],
                "frames_total": sum(e.frames for e in self.entries), "size": self.size,
                "excluded": [DEV_SET_NAME, *SKIP]}


class RealClips:
    """Seeded windows of `frames` frames from a RealClipCache (see the module docstring)."""

    def __init__(self, cache: RealClipCache, frames: int, seed: int, max_stride: int = 3) -> None:
        self.cache = cache
        self.num_frames = frames
        self.seed = seed
        self.max_stride = max_stride
        lengths = np.array([e.frames for e in cache.entries], np.float64)
        usable = lengths >= frames
        if not np.any(usable):
            raise ValueError(f"no cached source has {frames} frames")
        w = np.sqrt(lengths) * usable
        self._probs = w / w.sum()

    def window(self, index: int) -> Dict[str, object]:
        rng = np.random.default_rng([self.seed, int(index), WINDOW_TAG])
        k = int(rng.choice(len(self.cache.entries), p=self._probs))
        entry = self.cache.entries[k]
        top = self.max_stride if entry.fps > 15 else 1
        stride = int(rng.integers(1, top + 1))
        while stride > 1 and (self.num_frames - 1) * stride >= entry.frames:
            stride -= 1
        start = int(rng.integers(0, entry.frames - (self.num_frames - 1) * stride))
        video = np.array(self.cache.frames(entry)[start:start + (self.num_frames - 1) * stride + 1:stride])  # copy
        return {"video": video, "source": entry.source, "domain": entry.domain, "start": start, "stride": stride}


def default_cache_dir(size: int) -> Path:
    return Path(__file__).resolve().parents[3] / "runs" / "data" / "real_cache" / f"{size}px"


def main(argv: Optional[Sequence[str]] = None) -> int:
    """`python -m causaltap_training.data.real_clips [--data-root D] [--cache-dir C] [--size 256]`: fills the cache."""
    import argparse

    from .synthetic import default_data_root

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("--data-root", type=Path, default=None)
    ap.add_argument("--cache-dir", type=Path, default=None)
    ap.add_argument("--size", type=int, default=256)
    a = ap.parse_args(argv)
    root = a.data_root or default_data_root()
    if root is None:
        raise SystemExit("no data root: pass --data-root (../shared/data)")
    cache = RealClipCache.build(root, a.cache_dir or default_cache_dir(a.size), a.size, verbose=True)
    d = cache.describe()
    print(f"{len(d['sources'])} sources, {d['frames_total']} frames at {a.size}px in {cache.cache_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
