"""Kubric-like 2.5-D synthetic clips with exact point tracks and occlusion (seeded, numpy + OpenCV, CPU).

A clip is a textured world plane (the background) seen by a moving camera (a homography per frame), with
several textured planar objects ("sprites": varied shapes) in front of it, each with its own smooth motion in
the world (translation, rotation, scale, perspective) and a fixed depth order. Objects can start or end outside
the view (entering / leaving). Per-frame photometric effects: a global lighting ramp, per-object brightness
drift, Gaussian blur, sensor noise and JPEG artefacts (ground truth is unaffected by them).

Ground truth is exact: every layer (background or object) maps its own canvas to the image by one 3x3
homography per frame (`object -> world -> camera`), and the renderer uses exactly these matrices (OpenCV's
warps with the raster <-> pixel-centre shift applied), so a canvas point's image position in every frame is
the homography applied to it. A point is occluded where it is outside the image or where a nearer layer covers
it (the per-frame layer-id map, alpha > 0.5, at the pixel that holds the point).

Output (`SyntheticClip.as_tapvid`) is the TAP-Vid npz format of `causaltap eval`:
  video uint8 [T,H,W,3]; query_points float32 [N,3] (t, y, x) raster pixels at the first visible frame
  (query_mode 'first'); target_points float32 [N,T,2] (x, y) raster pixels (true projected positions, also
  where occluded); occluded bool [N,T]; query_mode 'first'; plus is_fg (point on an object) and seed.
Raster convention: (0,0) is the top-left corner of the top-left pixel; pixel (i, j) has its centre at
(j + 0.5, i + 0.5).
"""
from __future__ import annotations

import dataclasses
import glob
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

cv2.setNumThreads(1)


@dataclass(frozen=True)
class SyntheticConfig:
    """Knobs of the generator (defaults: TAP-Vid-Kubric-like clips at 256^2, 24 frames)."""

    frames: int = 24
    size: Tuple[int, int] = (256, 256)          # (H, W)
    num_points: int = 256                       # query points per clip (tracks with >= 1 visible frame)
    fg_fraction: float = 0.5                    # share of points sampled on objects (when objects are visible)
    min_objects: int = 2
    max_objects: int = 7
    object_canvas: int = 128                    # side of an object's texture canvas (pixels)
    world_scale: float = 2.0                    # the background texture is world_scale x the image
    camera_motion: float = 1.0                  # 0 = static camera; 1 = default amount
    max_rotation_deg: float = 30.0              # per-object rotation over the clip
    enter_leave_prob: float = 0.3               # probability that an object enters or leaves the view
    real_texture_prob: float = 0.5              # probability of a real-frame crop texture (when frames exist)
    blur_prob: float = 0.3
    noise_prob: float = 0.5
    jpeg_prob: float = 0.5
    lighting_prob: float = 0.7


# ----------------------------------------------------------------------------------------------- geometry
def _translate(tx: float, ty: float) -> np.ndarray:
    return np.array([[1, 0, tx], [0, 1, ty], [0, 0, 1]], np.float64)


def _similarity(angle: float, scale: float) -> np.ndarray:
    c, s = np.cos(angle) * scale, np.sin(angle) * scale
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]], np.float64)


def _perspective(px: float, py: float) -> np.ndarray:
    return np.array([[1, 0, 0], [0, 1, 0], [px, py, 1]], np.float64)


def apply_h(h: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Applies a 3x3 homography to [..., 2] points."""
    p = xy @ h[:2, :2].T + h[:2, 2]
    w = xy @ h[2, :2] + h[2, 2]
    return p / w[..., None]


def _to_cv(h: np.ndarray) -> np.ndarray:
    """Raster-coordinate homography -> OpenCV's pixel-centre convention (centre of pixel 0 at 0, not 0.5)."""
    return _translate(-0.5, -0.5) @ h @ _translate(0.5, 0.5)


def _smooth_curve(rng: np.random.Generator, t: np.ndarray, start: float, end: float, wiggle: float) -> np.ndarray:
    """A smooth curve over t in [0, 1] from `start` to `end` (eased) plus a random low-frequency wiggle."""
    ease = rng.uniform(0.0, 1.0)
    s = (1 - ease) * t + ease * (3 * t ** 2 - 2 * t ** 3)
    freq = rng.uniform(0.3, 1.5)
    phase = rng.uniform(0, 2 * np.pi)
    return start + (end - start) * s + wiggle * (np.sin(2 * np.pi * freq * t + phase) - np.sin(phase))


# ----------------------------------------------------------------------------------------------- textures
def value_noise(rng: np.random.Generator, h: int, w: int, octaves: int = 5) -> np.ndarray:
    """Multi-octave value noise in [0, 1], [h, w] float32."""
    out = np.zeros((h, w), np.float32)
    amp, total = 1.0, 0.0
    cells = int(rng.integers(2, 6))
    for _ in range(octaves):
        small = rng.random((cells, cells)).astype(np.float32)
        out += amp * cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
        total += amp
        amp *= rng.uniform(0.45, 0.7)
        cells = min(cells * 2, max(h, w) // 2)
    out /= total
    lo, hi = np.percentile(out, 1), np.percentile(out, 99)
    return np.clip((out - lo) / max(hi - lo, 1e-6), 0, 1)


def _random_colour(rng: np.random.Generator) -> np.ndarray:
    return rng.uniform(0, 255, 3).astype(np.float32)


def procedural_texture(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A colourful, trackable texture [h, w, 3] float32 in [0, 255]: coloured noise, plus sometimes stripes,
    checkers, dots or lines on top."""
    n1, n2 = value_noise(rng, h, w), value_noise(rng, h, w)
    c = [_random_colour(rng) for _ in range(3)]
    img = (n1[..., None] * c[0] + (1 - n1[..., None]) * c[1]) * (0.6 + 0.4 * n2[..., None])
    kind = rng.integers(0, 5)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    if kind == 1:  # stripes
        a = rng.uniform(0, np.pi)
        period = rng.uniform(6, 30)
        m = (np.sin((np.cos(a) * xx + np.sin(a) * yy) * 2 * np.pi / period) > 0).astype(np.float32)
        img = img * (1 - 0.5 * m[..., None]) + 0.5 * m[..., None] * c[2]
    elif kind == 2:  # checker
        p = rng.uniform(8, 32)
        m = ((np.floor(xx / p) + np.floor(yy / p)) % 2).astype(np.float32)
        img = img * (1 - 0.4 * m[..., None]) + 0.4 * m[..., None] * c[2]
    elif kind == 3:  # dots
        img = np.ascontiguousarray(img)
        for _ in range(int(rng.integers(20, 120))):
            cv2.circle(img, (int(rng.integers(0, w)), int(rng.integers(0, h))), int(rng.integers(1, 6)),
                       tuple(float(v) for v in _random_colour(rng)), -1, cv2.LINE_AA)
    elif kind == 4:  # random lines
        img = np.ascontiguousarray(img)
        for _ in range(int(rng.integers(5, 40))):
            p0 = (int(rng.integers(0, w)), int(rng.integers(0, h)))
            p1 = (int(rng.integers(0, w)), int(rng.integers(0, h)))
            cv2.line(img, p0, p1, tuple(float(v) for v in _random_colour(rng)), int(rng.integers(1, 4)),
                     cv2.LINE_AA)
    return np.clip(img, 0, 255).astype(np.float32)


class RealFramePool:
    """Frames decoded from the videos/JPEGs under a data folder (e.g. ../shared/data), used as texture crops.

    Decodes up to `frames_per_video` frames spread over each video once (lazily, on first use) and keeps them
    downscaled to at most `max_side` pixels. Empty when the folder is missing (procedural textures only).
    """

    def __init__(self, root: Optional[Path], frames_per_video: int = 6, max_side: int = 512,
                 exclude: Sequence[str] = ("tapvid_davis32_dev",)) -> None:
        self.root = Path(root) if root else None
        self.frames_per_video = frames_per_video
        self.max_side = max_side
        self.exclude = tuple(exclude)
        self._frames: Optional[List[np.ndarray]] = None

    def _fit(self, img: np.ndarray) -> np.ndarray:
        h, w = img.shape[:2]
        s = min(1.0, self.max_side / max(h, w))
        if s < 1.0:
            img = cv2.resize(img, (int(w * s), int(h * s)), interpolation=cv2.INTER_AREA)
        return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)

    @property
    def frames(self) -> List[np.ndarray]:
        if self._frames is None:
            self._frames = []
            if self.root is not None and self.root.is_dir():
                files = sorted(glob.glob(str(self.root / "**" / "*.mp4"), recursive=True))
                files = [f for f in files if not any(e in f for e in self.exclude)]
                for f in files:
                    cap = cv2.VideoCapture(f)
                    n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
                    for k in range(self.frames_per_video):
                        cap.set(cv2.CAP_PROP_POS_FRAMES, int((k + 0.5) * n / self.frames_per_video))
                        ok, img = cap.read()
                        if ok and img is not None:
                            self._frames.append(self._fit(img))
                    cap.release()
                for f in sorted(glob.glob(str(self.root / "**" / "*.jpg"), recursive=True))[::4]:
                    if any(e in f for e in self.exclude):
                        continue
                    img = cv2.imread(f)
                    if img is not None:
                        self._frames.append(self._fit(img))
        return self._frames

    def __len__(self) -> int:
        return len(self.frames)

    def crop(self, rng: np.random.Generator, h: int, w: int) -> np.ndarray:
        """A random crop resized to [h, w, 3] float32 (random scale, optional flip)."""
        img = self.frames[int(rng.integers(0, len(self.frames)))]
        ih, iw = img.shape[:2]
        side = int(rng.uniform(0.3, 1.0) * min(ih, iw))
        ch, cw = side, int(min(iw, side * w / h))
        y0, x0 = int(rng.integers(0, ih - ch + 1)), int(rng.integers(0, iw - cw + 1))
        out = cv2.resize(img[y0:y0 + ch, x0:x0 + cw], (w, h), interpolation=cv2.INTER_LINEAR).astype(np.float32)
        if rng.random() < 0.5:
            out = out[:, ::-1]
        return np.ascontiguousarray(out)


def default_data_root() -> Optional[Path]:
    """../shared/data next to the repository (or $CAUSALTAP_SHARED/data), None when absent."""
    env = os.environ.get("CAUSALTAP_SHARED")
    candidates = [Path(env) / "data"] if env else []
    candidates.append(Path(__file__).resolve().parents[4] / "shared" / "data")
    for c in candidates:
        if c.is_dir():
            return c
    return None


# ----------------------------------------------------------------------------------------------- shapes
def random_shape_mask(rng: np.random.Generator, size: int) -> np.ndarray:
    """An anti-aliased shape mask [size, size] float32 in [0, 1], centred, filling ~40-90% of the canvas side."""
    m = np.zeros((size, size), np.float32)
    c = size / 2
    r = size * rng.uniform(0.25, 0.45)
    kind = rng.integers(0, 6)
    shift = 4  # sub-pixel drawing precision
    if kind == 0:  # ellipse
        axes = (int(r * (1 << shift)), int(r * rng.uniform(0.4, 1.0) * (1 << shift)))
        cv2.ellipse(m, (int(c * (1 << shift)), int(c * (1 << shift))), axes, rng.uniform(0, 180), 0, 360, 1.0,
                    -1, cv2.LINE_AA, shift)
    elif kind == 1:  # rectangle (rotated by the motion)
        hw, hh = r, r * rng.uniform(0.3, 1.0)
        pts = np.array([[c - hw, c - hh], [c + hw, c - hh], [c + hw, c + hh], [c - hw, c + hh]])
        cv2.fillPoly(m, [np.round(pts * (1 << shift)).astype(np.int32)], 1.0, cv2.LINE_AA, shift)
    elif kind in (2, 3):  # convex-ish or star polygon
        k = int(rng.integers(3, 9))
        ang = np.sort(rng.uniform(0, 2 * np.pi, k)) if kind == 2 else np.linspace(0, 2 * np.pi, 2 * k,
                                                                                   endpoint=False)
        rad = r * (rng.uniform(0.6, 1.0, len(ang)) if kind == 2 else np.where(np.arange(2 * k) % 2 == 0, 1.0,
                                                                               rng.uniform(0.35, 0.7)))
        pts = np.stack([c + rad * np.cos(ang), c + rad * np.sin(ang)], -1)
        cv2.fillPoly(m, [np.round(pts * (1 << shift)).astype(np.int32)], 1.0, cv2.LINE_AA, shift)
    elif kind == 4:  # blob: thresholded smooth noise inside a disc
        n = value_noise(rng, size, size, octaves=3)
        yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
        d = np.sqrt((xx - c) ** 2 + (yy - c) ** 2) / r
        f = n - 0.6 * d
        m = cv2.GaussianBlur((f > np.percentile(f, 70)).astype(np.float32), (0, 0), 1.0)
    else:  # ring / annulus segment
        cv2.circle(m, (int(c * (1 << shift)), int(c * (1 << shift))), int(r * (1 << shift)), 1.0, -1, cv2.LINE_AA,
                   shift)
        cv2.circle(m, (int(c * (1 << shift)), int(c * (1 << shift))), int(r * rng.uniform(0.3, 0.6) * (1 << shift)),
                   0.0, -1, cv2.LINE_AA, shift)
    return m


# ----------------------------------------------------------------------------------------------- clip
@dataclass
class SyntheticClip:
    """One generated clip (see the module docstring for the conventions)."""

    video: np.ndarray            # uint8 [T, H, W, 3]
    target_points: np.ndarray    # float32 [N, T, 2] (x, y)
    occluded: np.ndarray         # bool [N, T]
    query_points: np.ndarray     # float32 [N, 3] (t, y, x) at the first visible frame
    is_fg: np.ndarray            # bool [N]
    seed: Tuple[int, ...]        # the generator seed (an int or a sequence of ints)

    def as_tapvid(self) -> Dict[str, np.ndarray]:
        return {"video": self.video, "query_points": self.query_points, "target_points": self.target_points,
                "occluded": self.occluded, "query_mode": np.array("first"), "is_fg": self.is_fg,
                "seed": np.atleast_1d(np.array(self.seed, np.int64))}


class SyntheticGenerator:
    """Generates `SyntheticClip`s; `generate(seed)` is deterministic for a given seed, config and texture pool."""

    def __init__(self, config: SyntheticConfig = SyntheticConfig(), data_root: Optional[Path] = None,
                 use_real_textures: bool = True) -> None:
        self.config = config
        root = data_root if data_root is not None else (default_data_root() if use_real_textures else None)
        self.pool = RealFramePool(root if use_real_textures else None)

    def _texture(self, rng: np.random.Generator, h: int, w: int) -> np.ndarray:
        if len(self.pool) and rng.random() < self.config.real_texture_prob:
            return self.pool.crop(rng, h, w)
        return procedural_texture(rng, h, w)

    def generate(self, seed) -> SyntheticClip:
        """One clip; `seed` is an int or a sequence of ints (numpy SeedSequence entropy)."""
        cfg = self.config
        rng = np.random.default_rng(seed)
        T = cfg.frames
        H, W = cfg.size
        t = np.linspace(0.0, 1.0, T)

        # camera: image raster -> world raster is C(t); world -> image is inv(C(t)).
        wh, ww = int(H * cfg.world_scale), int(W * cfg.world_scale)
        m = cfg.camera_motion
        cam_x = _smooth_curve(rng, t, 0, rng.normal(0, 0.15 * W * m), 0.03 * W * m)
        cam_y = _smooth_curve(rng, t, 0, rng.normal(0, 0.15 * H * m), 0.03 * H * m)
        cam_a = _smooth_curve(rng, t, 0, np.deg2rad(rng.normal(0, 6 * m)), np.deg2rad(2 * m))
        cam_s = np.exp(_smooth_curve(rng, t, 0, rng.normal(0, 0.12 * m), 0.03 * m))
        cam_px = _smooth_curve(rng, t, 0, rng.normal(0, 2e-4 * m), 0.0)
        cam_py = _smooth_curve(rng, t, 0, rng.normal(0, 2e-4 * m), 0.0)
        centre_img = _translate(-W / 2, -H / 2)
        world_c = _translate(ww / 2, wh / 2)
        img_to_world = [world_c @ _translate(cam_x[i], cam_y[i]) @ _similarity(cam_a[i], cam_s[i])
                        @ _perspective(cam_px[i], cam_py[i]) @ centre_img for i in range(T)]
        world_to_img = [np.linalg.inv(h) for h in img_to_world]

        # layers: 0 = background (canvas = world), 1.. = objects back to front
        textures = [self._texture(rng, wh, ww)]
        masks: List[Optional[np.ndarray]] = [None]
        layer_h = [world_to_img]  # per layer, per frame: canvas raster -> image raster
        num_obj = int(rng.integers(cfg.min_objects, cfg.max_objects + 1))
        S = cfg.object_canvas
        for _ in range(num_obj):
            tex = self._texture(rng, S, S)
            masks.append(random_shape_mask(rng, S))
            textures.append(tex)
            # world positions relative to the view at t=0 (object centre), possibly entering / leaving
            view_c = apply_h(img_to_world[0], np.array([W / 2, H / 2]))
            start = view_c + rng.uniform(-0.45, 0.45, 2) * [W, H]
            end = start + rng.normal(0, 0.25, 2) * [W, H]
            if rng.random() < cfg.enter_leave_prob:
                d = rng.normal(0, 1, 2)
                d = d / max(np.linalg.norm(d), 1e-6)
                off = d * 0.75 * max(W, H)
                if rng.random() < 0.5:
                    start = view_c + off
                    end = view_c + rng.uniform(-0.3, 0.3, 2) * [W, H]
                else:
                    end = view_c + off
            ox = _smooth_curve(rng, t, start[0], end[0], rng.uniform(0, 0.05) * W)
            oy = _smooth_curve(rng, t, start[1], end[1], rng.uniform(0, 0.05) * H)
            a0 = rng.uniform(0, 2 * np.pi)
            oa = _smooth_curve(rng, t, a0, a0 + np.deg2rad(rng.uniform(-1, 1) * cfg.max_rotation_deg),
                               np.deg2rad(5))
            s0 = rng.uniform(0.4, 1.1) * min(H, W) / S * 0.8
            osc = s0 * np.exp(_smooth_curve(rng, t, 0, rng.normal(0, 0.2), 0.05))
            opx = _smooth_curve(rng, t, rng.normal(0, 1.5e-3), rng.normal(0, 1.5e-3), 0.0)
            opy = _smooth_curve(rng, t, rng.normal(0, 1.5e-3), rng.normal(0, 1.5e-3), 0.0)
            obj_to_world = [_translate(ox[i], oy[i]) @ _similarity(oa[i], osc[i]) @ _perspective(opx[i], opy[i])
                            @ _translate(-S / 2, -S / 2) for i in range(T)]
            layer_h.append([world_to_img[i] @ obj_to_world[i] for i in range(T)])

        # photometric schedule
        light = np.ones((T, 3), np.float32)
        bias = np.zeros((T, 1), np.float32)
        if rng.random() < cfg.lighting_prob:
            g0, g1 = rng.uniform(0.7, 1.3, 2)
            light = (g0 + (g1 - g0) * t)[:, None] * rng.uniform(0.9, 1.1, (1, 3)) * np.ones((T, 3))
            bias = (rng.uniform(-20, 20) * t)[:, None]
        obj_gain = [np.ones(T)] + [1 + _smooth_curve(rng, t, 0, rng.normal(0, 0.15), 0.05) for _ in range(num_obj)]
        blur = rng.random() < cfg.blur_prob
        blur_sigma = rng.uniform(0.3, 1.5, T) * (rng.random(T) < 0.6) if blur else np.zeros(T)
        noise_sigma = rng.uniform(1, 6) if rng.random() < cfg.noise_prob else 0.0
        jpeg_q = int(rng.integers(30, 95)) if rng.random() < cfg.jpeg_prob else 0

        # render, with a per-frame id map of the front-most layer (alpha > 0.5)
        video = np.empty((T, H, W, 3), np.uint8)
        ids = np.empty((T, H, W), np.int16)
        tex8 = [np.clip(x + 0.5, 0, 255).astype(np.uint8) for x in textures]  # uint8 warps are ~3x faster
        mask8 = [None] + [np.clip(x * 255 + 0.5, 0, 255).astype(np.uint8) for x in masks[1:]]
        corners = np.array([[0, 0], [S, 0], [S, S], [0, S]], np.float64)
        for i in range(T):
            frame = cv2.warpPerspective(tex8[0], _to_cv(layer_h[0][i]), (W, H), flags=cv2.INTER_LINEAR,
                                        borderMode=cv2.BORDER_REFLECT).astype(np.float32)
            idm = np.zeros((H, W), np.int16)
            for k in range(1, num_obj + 1):
                # render only the object's bounding box (exact: the warp is the same homography, shifted)
                box = apply_h(layer_h[k][i], corners)
                x0, y0 = np.floor(np.clip(box.min(0), 0, [W, H])).astype(int)
                x1, y1 = np.ceil(np.clip(box.max(0), 0, [W, H])).astype(int)
                if x1 - x0 < 1 or y1 - y0 < 1:
                    continue
                mcv = _to_cv(_translate(-x0, -y0) @ layer_h[k][i])
                alpha = cv2.warpPerspective(mask8[k], mcv, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR,
                                            borderMode=cv2.BORDER_CONSTANT, borderValue=0).astype(np.float32) / 255
                col = cv2.warpPerspective(tex8[k], mcv, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR,
                                          borderMode=cv2.BORDER_REFLECT).astype(np.float32) * obj_gain[k][i]
                roi = frame[y0:y1, x0:x1]
                roi += alpha[..., None] * (col - roi)
                idm[y0:y1, x0:x1][alpha > 0.5] = k
            frame = frame * light[i] + bias[i]
            if blur_sigma[i] > 0.25:
                frame = cv2.GaussianBlur(frame, (0, 0), float(blur_sigma[i]))
            if noise_sigma > 0:
                frame = frame + rng.normal(0, noise_sigma, frame.shape).astype(np.float32)
            f8 = np.clip(frame + 0.5, 0, 255).astype(np.uint8)
            if jpeg_q:
                ok, buf = cv2.imencode(".jpg", f8[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, jpeg_q])
                f8 = cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1]
            video[i] = f8
            ids[i] = idm

        tracks, occ, fg = self._sample_tracks(rng, layer_h, ids, masks, num_obj)
        # query_first: the first visible frame of each track, at its exact position there
        first = np.argmax(~occ, axis=1)
        qxy = tracks[np.arange(len(first)), first]
        query = np.stack([first.astype(np.float32), qxy[:, 1], qxy[:, 0]], -1).astype(np.float32)
        return SyntheticClip(video, tracks.astype(np.float32), occ, query, fg,
                             tuple(int(v) for v in np.atleast_1d(seed)))

    def _sample_tracks(self, rng: np.random.Generator, layer_h, ids: np.ndarray, masks, num_obj: int):
        """Samples visible points (on random frames, a share on objects), returns tracks [N,T,2], occluded
        [N,T], is_fg [N]."""
        cfg = self.config
        T, H, W = ids.shape
        n = cfg.num_points
        wants_fg = rng.random(n) < cfg.fg_fraction
        frames = rng.integers(0, T, n)
        frames[rng.random(n) < 0.5] = 0  # half of the queries are on the first frame (online use)
        layers, canon = np.zeros(n, np.int64), np.zeros((n, 2))
        cache: Dict[Tuple[int, bool], Tuple[np.ndarray, np.ndarray]] = {}
        inv: Dict[Tuple[int, int], np.ndarray] = {}
        for j in range(n):
            f = int(frames[j])
            key = (f, bool(wants_fg[j]))
            if key not in cache:
                sel = (ids[f] > 0) if key[1] else (ids[f] == 0)
                if not sel.any():
                    sel = np.ones_like(sel)
                cache[key] = np.nonzero(sel)
            ys, xs = cache[key]
            k = int(rng.integers(0, len(ys)))
            xy = np.array([xs[k], ys[k]], np.float64) + rng.uniform(0.05, 0.95, 2)
            layer = int(ids[f, ys[k], xs[k]])
            layers[j] = layer
            if (layer, f) not in inv:
                inv[(layer, f)] = np.linalg.inv(layer_h[layer][f])
            canon[j] = apply_h(inv[(layer, f)], xy)
        tracks = np.zeros((n, T, 2))
        for layer in np.unique(layers):
            rows = np.nonzero(layers == layer)[0]
            for i in range(T):
                tracks[rows, i] = apply_h(layer_h[layer][i], canon[rows])
        xi, yi = np.floor(tracks[..., 0]).astype(np.int64), np.floor(tracks[..., 1]).astype(np.int64)
        inside = (xi >= 0) & (xi < W) & (yi >= 0) & (yi < H)
        tt = np.broadcast_to(np.arange(T), (n, T))
        front = ids[tt, np.clip(yi, 0, H - 1), np.clip(xi, 0, W - 1)]
        occluded = ~inside | (front != layers[:, None])
        # every track is visible at its sampling frame by construction (guard against float edge cases)
        occluded[np.arange(n), frames] = False
        return tracks, occluded, layers > 0


def save_npz(path: Path, clip: SyntheticClip) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **clip.as_tapvid())


def load_npz(path: Path) -> Dict[str, np.ndarray]:
    with np.load(path) as d:
        return {k: d[k] for k in d.files}


def config_with(**overrides) -> SyntheticConfig:
    return dataclasses.replace(SyntheticConfig(), **overrides)
