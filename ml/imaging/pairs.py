"""Matched pairs of generated plates: one plate, and the same plate with one more finding.

A worklist pre-screen must never rank a plate lower because it shows more disease: a lesion added
to a plate that is already abnormal should raise its score, not lower it. Training teaches that
with a ranking loss on these pairs, and evaluation measures it on held-out pairs (the real-plate
check in :mod:`ml.imaging.evaluate` is the same question asked of one real radiograph).
"""
from __future__ import annotations

import numpy as np

from ml.imaging.anomalies import KINDS, paint
from ml.imaging.preprocess import INPUT_SIZE
from ml.imaging.synth import SynthCase, acquire, model_input, plate_density


def synth_pair(rng: np.random.Generator) -> tuple[SynthCase, SynthCase]:
    """One plate (abnormal three times in four: adding to a plate that already has findings is the
    hard case) and the same plate with one more finding, acquired with the same exposure, noise and
    encoding: what a lesion adds, all else equal."""
    density, lungs, unit, mask, kind = plate_density(rng, anomalous=rng.random() < 0.75)
    extra = str(rng.choice(KINDS))
    added, region = paint(extra, lungs, unit, rng)
    state = rng.bit_generator.state
    base = SynthCase(*acquire(density, rng), int(kind is not None), kind, mask)
    rng.bit_generator.state = state
    plus = SynthCase(*acquire(density + added, rng), 1, kind or extra, mask | region)
    return base, plus


def make_pairs(n: int, seed: int) -> dict[str, np.ndarray]:
    """``n`` pairs from :func:`synth_pair`: ``base`` and ``plus`` (n,1,128,128), ``base_y`` (n,)."""
    rng = np.random.default_rng(seed)
    base = np.empty((n, 1, INPUT_SIZE, INPUT_SIZE), dtype=np.float32)
    plus = np.empty_like(base)
    ys = np.empty(n, dtype=np.int64)
    for i in range(n):
        b, p = synth_pair(rng)
        base[i], plus[i], ys[i] = model_input(b), model_input(p), b.label
    return {"base": base, "plus": plus, "base_y": ys}
