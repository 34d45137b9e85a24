"""Seeded, numpy-only generator of chest-like PA radiographs, with or without injected anomalies.

No real patient images are used to train the pre-screen: this generator is the whole training
distribution, so it is written to vary what real plates vary. One image is built in density
units (higher = more attenuating) from:

* a torso of varying width and position with shoulders, soft tissue and an abdomen below;
* two lung fields (superellipses with a domed diaphragm and a tapered apex, cut by the heart);
* a mediastinum, a spine with vertebral texture, a heart of varying size;
* normal variants that must not count as findings: basal greying, breast shadows, prominent hila
  and vessels, scapular margins, gastric and bowel gas below the diaphragm;
* 9–11 posterior ribs per side (curved cortical bands), fainter anterior ribs, two clavicles;
* anomalies from :mod:`ml.imaging.anomalies` (nodules, patchy opacities, effusion-like whitening):
  an abnormal plate carries one to three findings, of one kind or several, because real abnormal
  plates often do — a model that has only seen one finding per plate learns that a second lesion
  makes the first less likely, and a lesion added to an already abnormal plate lowers its score;
* exposure variation: gamma, gain, a low-frequency heel-effect gradient, blur and detector noise.

It is then encoded as stored DICOM values, randomly MONOCHROME1 or MONOCHROME2, with random rescale
slope/intercept and an optional window, and decoded again by :mod:`ml.imaging.preprocess` — so both
photometric paths and the windowing are part of what the model is trained and evaluated on.
Image sizes vary (160–320 px a side, aspect 0.85–1.15); the runtime accepts any size.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ml.imaging.anomalies import KINDS, paint
from ml.imaging.ops import box_blur, grid, resize, smooth_noise
from ml.imaging.preprocess import INPUT_SIZE, PixelMeta, to_display, to_model_input

MAP_SIZE = INPUT_SIZE // 8


@dataclass(frozen=True)
class SynthCase:
    """One generated plate as a DICOM would carry it, plus its ground truth."""

    pixels: np.ndarray  # stored values (uint16)
    meta: PixelMeta
    label: int  # 1 if an anomaly was injected
    kind: str | None
    mask: np.ndarray  # bool, where the anomaly is


def _soft(sdf: np.ndarray, edge: float) -> np.ndarray:
    """Soft inside-indicator of a signed distance (negative inside)."""
    return 1.0 / (1.0 + np.exp(np.clip(sdf / edge, -30, 30)))


def chest(shape: tuple[int, int], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, float]:
    """A normal chest in density units; returns (density, soft lung mask, lung contrast unit)."""
    yy, xx = grid(shape)
    u = rng.uniform
    cx, half = 0.5 + u(-0.04, 0.04), u(0.4, 0.52)
    top = u(0.0, 0.08)
    shoulder = top + 0.10 * np.clip(np.abs(xx - cx) / half, 0, 1) ** 4
    body = _soft(np.abs(xx - cx) - half, 0.01) * _soft(shoulder - yy, 0.02)
    d = 0.5 * body + 0.04
    unit = u(0.25, 0.4)
    lung_top, lung_bot = u(0.08, 0.18), u(0.7, 0.85)
    lungs = np.zeros(np.broadcast_shapes(yy.shape, xx.shape), dtype=np.float32)
    heart_w, heart_h = u(0.12, 0.2), u(0.09, 0.14)
    heart_cx, heart_cy = cx + u(0.03, 0.08), lung_bot - u(0.06, 0.12)
    for sign in (-1.0, 1.0):
        lcx, lw = cx + sign * u(0.19, 0.25), u(0.12, 0.17)
        dome = lung_bot - u(0.0, 0.04) - 0.05 * (1 - ((xx - lcx) / lw) ** 2).clip(0, 1)
        t = np.clip((yy - lung_top) / (dome - lung_top), 0, 1.5)
        width = lw * (0.45 + 0.55 * np.sqrt(np.clip(t, 0, 1)))  # apex tapers
        xn = (xx - lcx - sign * 0.03 * t) / width
        sdf = (np.abs(xn) ** 3 + np.abs(2 * (yy - lung_top) / (dome - lung_top) - 1) ** 3) ** (1 / 3) - 1
        lungs = np.maximum(lungs, _soft(sdf, u(0.04, 0.08)))
    heart = _soft(np.hypot((xx - heart_cx) / heart_w, (yy - heart_cy) / heart_h) - 1, 0.03)
    medi = _soft(np.abs(xx - cx) - u(0.05, 0.08), 0.01)
    lungs = lungs * (1 - heart) * (1 - medi)
    d = d - unit * lungs + 0.03 * heart + 0.05 * medi * _soft(yy - lung_bot, 0.02)
    d += 0.12 * _soft(yy - lung_bot - 0.02, 0.03) * body * _soft(lung_bot - yy, 0.05)  # abdomen/liver
    spine = _soft(np.abs(xx - cx) - 0.035, 0.006)
    d += spine * (0.07 + 0.03 * np.cos(2 * np.pi * yy * u(18, 24)) ** 2)
    ribs = np.zeros_like(lungs)
    for sign in (-1.0, 1.0):
        lateral = np.clip(sign * (xx - cx), 0, None)
        for k in range(int(rng.integers(9, 12))):
            y0 = lung_top - 0.03 + k * u(0.05, 0.062)
            curve = y0 - 0.08 * lateral + u(0.9, 1.3) * lateral**2
            t = u(0.009, 0.014)
            band = np.exp(-(((yy - curve) / t) ** 2)) * (lateral > 0.02) * (lateral < half - 0.02) * (yy < lung_bot)
            ribs += band * (0.8 + 0.5 * np.exp(-((np.abs(yy - curve) - t) / (0.3 * t)) ** 2))
            ant = y0 + 0.08 + 0.45 * (0.42 - lateral) ** 2 - 0.05
            ribs += 0.35 * np.exp(-(((yy - ant) / (1.3 * t)) ** 2)) * (lateral > 0.05) * (lateral < half - 0.05)
        clav = top + u(0.1, 0.14) - 0.12 * lateral + 0.15 * lateral**2
        ribs += 1.2 * np.exp(-(((yy - clav) / 0.015) ** 2)) * (lateral > 0.03) * (lateral < 0.3)
    d += u(0.05, 0.09) * ribs * body
    d += _normal_variants(yy, xx, lungs, cx, lung_top, lung_bot, unit, rng) * body
    d -= _abdominal_gas(yy, xx, cx, half, lung_bot, unit, rng) * body * (1 - lungs)
    return d.astype(np.float32), np.clip(lungs, 0, 1).astype(np.float32), unit


def _normal_variants(yy: np.ndarray, xx: np.ndarray, lungs: np.ndarray, cx: float, lung_top: float,
                     lung_bot: float, unit: float, rng: np.random.Generator) -> np.ndarray:
    """Normal findings that real plates are full of and that must not count as anomalies: basal
    greying, breast shadows, prominent hila and vessels, scapular margins."""
    u = rng.uniform
    t = np.clip((yy - lung_top) / (lung_bot - lung_top), 0, 1)
    d = lungs * unit * u(0.0, 0.25) * t**2
    vessels = np.clip(smooth_noise(lungs.shape, int(u(14, 28)), rng), 0, None)
    d += lungs * unit * u(0.06, 0.2) * vessels * (0.5 + t)
    for sign in (-1.0, 1.0):
        hy, hw = u(0.4, 0.5), u(0.03, 0.06)
        d += u(0.1, 0.4) * unit * np.exp(-(((xx - cx - sign * u(0.08, 0.11)) / hw) ** 2 + ((yy - hy) / (1.6 * hw)) ** 2))
        if rng.random() < 0.6:  # breast / pectoral soft tissue over the lower lateral zones
            bx, by = cx + sign * u(0.18, 0.28), lung_bot - u(0.0, 0.12)
            ell = np.hypot((xx - bx) / u(0.12, 0.18), (yy - by) / u(0.08, 0.13)) - 1
            d += u(0.05, 0.25) * unit * _soft(ell, u(0.04, 0.08)) * (0.4 + 0.6 * lungs)
        if rng.random() < 0.5:  # scapular margin over the upper lateral zone
            edge = cx + sign * (u(0.29, 0.36) - 0.1 * (yy - lung_top))
            d += u(0.1, 0.25) * unit * _soft(sign * (edge - xx), 0.01) * _soft(yy - 0.5, 0.03) * (yy > lung_top - 0.05)
    return d


def _abdominal_gas(yy: np.ndarray, xx: np.ndarray, cx: float, half: float, lung_bot: float, unit: float,
                   rng: np.random.Generator) -> np.ndarray:
    """Air below the diaphragm, a normal finding: a gastric bubble under the left hemidiaphragm (the
    side of the heart, image right on a PA plate) and a few lobulated colonic gas patches lower down."""
    u = rng.uniform
    d = np.zeros(np.broadcast_shapes(yy.shape, xx.shape), dtype=np.float32)
    if rng.random() < 0.7:
        gx, gy = cx + u(0.1, 0.25), lung_bot + u(0.03, 0.09)
        ell = np.hypot((xx - gx) / u(0.04, 0.1), (yy - gy) / u(0.025, 0.06)) - 1
        d += u(0.3, 0.8) * unit * _soft(ell, 0.01)
    for _ in range(int(rng.integers(0, 5))):
        bx, by, r = cx + u(-0.8, 0.8) * half, lung_bot + u(0.08, 0.35), u(0.02, 0.06)
        theta = np.arctan2(yy - by, xx - bx)
        lobes = 1.0 + 0.2 * np.sin(int(rng.integers(2, 6)) * theta + u(0, 2 * np.pi))
        d += u(0.15, 0.6) * unit * _soft(np.hypot(xx - bx, yy - by) / (r * lobes) - 1, 0.03)
    return d


FINDINGS_PER_PLATE = (1, 2, 3)
FINDINGS_P = (0.6, 0.3, 0.1)


def plate_density(rng: np.random.Generator, anomalous: bool, kind: str | None = None
                  ) -> tuple[np.ndarray, np.ndarray, float, np.ndarray, str | None]:
    """A chest in density units with its findings: (density, lung mask, unit, finding mask, first kind).

    An abnormal plate carries 1–3 findings (60/30/10 %); ``kind`` forces the first one's type, else
    each is drawn uniformly."""
    h = int(rng.integers(160, 321))
    shape = (h, int(np.clip(h * rng.uniform(0.85, 1.15), 160, 360)))
    density, lungs, unit = chest(shape, rng)
    mask = np.zeros(shape, dtype=bool)
    if not anomalous:
        return density, lungs, unit, mask, None
    kind = kind or str(rng.choice(KINDS))
    count = int(rng.choice(FINDINGS_PER_PLATE, p=FINDINGS_P))
    for k in [kind] + [str(rng.choice(KINDS)) for _ in range(count - 1)]:
        added, region = paint(k, lungs, unit, rng)
        density, mask = density + added, mask | region
    return density, lungs, unit, mask, kind


def acquire(density: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, PixelMeta]:
    """Expose and store a density image: heel effect, blur, gamma, gain, noise, then DICOM-style
    stored values (MONOCHROME1/2, rescale slope/intercept, optional window)."""
    shape = density.shape
    yy, xx = grid(shape)
    heel = 1.0 + rng.uniform(-0.08, 0.08) * (yy - 0.5) + rng.uniform(-0.05, 0.05) * (xx - 0.5)
    density = box_blur(np.clip(density * heel, 0, None), int(rng.integers(0, 2)))
    density = density ** rng.uniform(0.75, 1.3) * rng.uniform(0.8, 1.2)
    density += rng.normal(0, rng.uniform(0.004, 0.02), shape) + 0.01 * smooth_noise(shape, 4, rng)
    photometric = "MONOCHROME1" if rng.random() < 0.5 else "MONOCHROME2"
    slope = float(rng.choice([1.0, 0.5, 2.0]))
    intercept = float(rng.choice([0.0, -1024.0, 100.0]))
    real = density * rng.uniform(2000, 12000) + rng.uniform(200, 2000)  # detector units
    real = (real.max() + real.min()) - real if photometric == "MONOCHROME1" else real
    stored = np.clip(np.round((real - intercept) / slope), 0, 65535).astype(np.uint16)
    window: tuple[float | None, float | None] = (None, None)
    if rng.random() < 0.5:
        lo, hi = np.percentile(real, [0.2, 99.8])
        window = ((lo + hi) / 2 * rng.uniform(0.95, 1.05), (hi - lo) * rng.uniform(1.0, 1.4))
    return stored, PixelMeta(photometric, slope, intercept, *window)


def synth_case(rng: np.random.Generator, anomalous: bool, kind: str | None = None) -> SynthCase:
    """Generate one plate (see :func:`plate_density`); ``kind`` records its first finding and ``mask``
    covers them all."""
    density, _, _, mask, kind = plate_density(rng, anomalous, kind)
    return SynthCase(*acquire(density, rng), int(anomalous), kind, mask)


def model_input(case: SynthCase) -> np.ndarray:
    """The runtime's own preprocessing of a generated plate: ``(1, 128, 128)``."""
    return to_model_input(to_display(case.pixels, case.meta))[0]


def make_dataset(n: int, seed: int, anomaly_rate: float = 0.5) -> dict[str, np.ndarray]:
    """``n`` model-ready cases: ``x`` (n,1,128,128), ``y`` (n,), ``mask`` (n,16,16), ``kind`` (n,)."""
    rng = np.random.default_rng(seed)
    xs = np.empty((n, 1, INPUT_SIZE, INPUT_SIZE), dtype=np.float32)
    masks = np.empty((n, MAP_SIZE, MAP_SIZE), dtype=np.float32)
    ys, kinds = np.empty(n, dtype=np.int64), []
    for i in range(n):
        case = synth_case(rng, anomalous=rng.random() < anomaly_rate)
        xs[i] = model_input(case)
        masks[i] = resize(case.mask.astype(np.float32), (MAP_SIZE, MAP_SIZE)) > 0.05
        ys[i] = case.label
        kinds.append(case.kind or "none")
    return {"x": xs, "y": ys, "mask": masks, "kind": np.array(kinds)}

