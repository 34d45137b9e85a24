"""Procedural anomaly models, shared by the synthetic generator and by injection into real plates.

Each painter adds density (higher = more attenuating) inside a lung field and returns the region
it touched. Amplitudes are fractions of ``unit``, the density difference between aerated lung and
soft tissue of the same image, so one recipe works on synthetic images and on a real CR plate
whatever its stored value range.

* ``nodule``   – 1–3 round, slightly lobulated lesions (sphere thickness profile), radius 1.8–5 %
  of the shorter side, contrast 30–80 % of lung/soft-tissue contrast.
* ``opacity``  – a patchy, ill-defined consolidation (smooth noise under a Gaussian envelope),
  radius 6–13 %, peak contrast 40–80 %.
* ``effusion`` – basal whitening of one lung with a meniscus rising laterally (blunted
  costophrenic angle), 12–30 % of the lung height, 50–100 % of the contrast.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ml.imaging.ops import box_blur, smooth_noise

KINDS = ("nodule", "opacity", "effusion")


def _pick_centre(lung: np.ndarray, rng: np.random.Generator) -> tuple[int, int]:
    candidates = np.flatnonzero(lung > 0.9)
    if candidates.size == 0:
        candidates = np.flatnonzero(lung >= lung.max() * 0.9)
    return divmod(int(rng.choice(candidates)), lung.shape[1])


def _crop(shape: tuple[int, int], cy: int, cx: int, half: int) -> tuple[slice, slice]:
    return (slice(max(0, cy - half), min(shape[0], cy + half + 1)),
            slice(max(0, cx - half), min(shape[1], cx + half + 1)))


def paint_nodule(lung: np.ndarray, unit: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Round lesions: thickness of a sphere, sqrt(1 - (d/r)^2), with a lobulated rim."""
    side = min(lung.shape)
    added = np.zeros(lung.shape, dtype=np.float32)
    mask = np.zeros(lung.shape, dtype=bool)
    for _ in range(int(rng.choice([1, 1, 1, 2, 3]))):
        cy, cx = _pick_centre(lung, rng)
        r = rng.uniform(0.018, 0.05) * side
        amp = rng.uniform(0.3, 0.8) * unit
        sy, sx = _crop(lung.shape, cy, cx, int(np.ceil(1.3 * r)) + 1)
        yy = np.arange(sy.start, sy.stop, dtype=np.float32)[:, None] - cy
        xx = np.arange(sx.start, sx.stop, dtype=np.float32)[None, :] - cx
        theta = np.arctan2(yy, xx)
        lobes = 1.0 + 0.12 * np.sin(rng.integers(3, 7) * theta + rng.uniform(0, 2 * np.pi))
        rel = np.sqrt(yy**2 + xx**2) / (r * lobes)
        added[sy, sx] += amp * np.sqrt(np.clip(1.0 - rel**2, 0.0, None))
        mask[sy, sx] |= rel < 1.0
    return added, mask


def paint_opacity(lung: np.ndarray, unit: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Patchy consolidation: thresholded smooth noise under a Gaussian envelope, kept in the lung."""
    side = min(lung.shape)
    cy, cx = _pick_centre(lung, rng)
    radius = rng.uniform(0.06, 0.13) * side
    amp = rng.uniform(0.4, 0.8) * unit
    sy, sx = _crop(lung.shape, cy, cx, int(2 * radius))
    yy = np.arange(sy.start, sy.stop, dtype=np.float32)[:, None] - cy
    xx = np.arange(sx.start, sx.stop, dtype=np.float32)[None, :] - cx
    envelope = np.exp(-2.0 * (yy**2 / rng.uniform(0.6, 1.4) + xx**2) / radius**2)
    patchy = np.clip(0.6 + 0.5 * smooth_noise(envelope.shape, 5, rng), 0.0, 1.0)
    shape = envelope * patchy * lung[sy, sx]
    local = amp * shape / max(float(shape.max()), 1e-6)  # the densest patch always reaches amp
    added = np.zeros(lung.shape, dtype=np.float32)
    mask = np.zeros(lung.shape, dtype=bool)
    added[sy, sx] = local
    mask[sy, sx] = local > 0.25 * amp
    return added, mask


def paint_effusion(lung: np.ndarray, unit: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Basal whitening of one lung whose upper border (meniscus) rises towards the chest wall."""
    h, w = lung.shape
    inside = lung > 0.5
    left_side = bool(rng.integers(0, 2))
    cols = np.arange(w)
    side = inside & ((cols < w // 2) if left_side else (cols >= w // 2))[None, :]
    if not side.any():
        side = inside
    has = side.any(axis=0)
    rows = np.arange(h)
    bottom = h - 1 - np.argmax(side[::-1], axis=0)
    top = np.argmax(side, axis=0)
    height = float(np.median((bottom - top)[has]))
    xs = cols[has]
    lateral = (xs.max() - cols) / max(1, np.ptp(xs)) if left_side else (cols - xs.min()) / max(1, np.ptp(xs))
    level = bottom - rng.uniform(0.12, 0.3) * height * (1.0 + 0.7 * np.clip(lateral, 0, 1))
    region = side & (rows[:, None] > level[None, :])
    soft = box_blur(region.astype(np.float32), max(1, int(0.02 * min(h, w))))
    depth = np.clip((rows[:, None] - level[None, :]) / (0.3 * height + 1e-6), 0.0, 1.0)
    added = rng.uniform(0.5, 1.0) * unit * soft * (0.7 + 0.3 * depth) * lung
    return added.astype(np.float32), region


PAINTERS: dict[str, Callable[[np.ndarray, float, np.random.Generator], tuple[np.ndarray, np.ndarray]]] = {
    "nodule": paint_nodule,
    "opacity": paint_opacity,
    "effusion": paint_effusion,
}


def paint(kind: str, lung: np.ndarray, unit: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Density to add for one anomaly of ``kind`` and the boolean region it covers."""
    if kind not in PAINTERS:
        raise ValueError(f"unknown anomaly kind {kind!r}; expected one of {', '.join(KINDS)}")
    return PAINTERS[kind](lung, unit, rng)
