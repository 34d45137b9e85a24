"""Screening metrics in plain numpy, so evaluation needs neither scikit-learn nor torch."""
from __future__ import annotations

import numpy as np

CENTRAL = slice(26, 102)  # the middle ~60 % of a 128-px input, where the lung fields lie


def auroc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve as the Mann–Whitney probability that a positive outranks a negative."""
    y = np.asarray(labels).astype(bool)
    s = np.asarray(scores, dtype=np.float64)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError("AUROC needs both positive and negative cases")
    _, inverse, counts = np.unique(s, return_inverse=True, return_counts=True)
    ranks = (np.cumsum(counts) - (counts - 1) / 2.0)[inverse]  # average rank for ties
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def threshold_for_sensitivity(labels: np.ndarray, scores: np.ndarray, target: float = 0.95) -> float:
    """Highest threshold (flag when score ≥ threshold) whose sensitivity is at least ``target``."""
    pos = np.sort(np.asarray(scores, dtype=np.float64)[np.asarray(labels).astype(bool)])
    allowed_misses = int(np.floor((1.0 - target) * len(pos) + 1e-9))
    return float(pos[allowed_misses])


def operating_point(labels: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, float]:
    """Sensitivity and specificity when flagging ``score >= threshold``."""
    y = np.asarray(labels).astype(bool)
    flagged = np.asarray(scores) >= threshold
    return {
        "sensitivity": float((flagged & y).sum() / max(1, y.sum())),
        "specificity": float((~flagged & ~y).sum() / max(1, (~y).sum())),
    }


def pixel_statistics_score(x: np.ndarray) -> np.ndarray:
    """Baseline: mean equalised intensity of the central zone (denser lungs → brighter centre)."""
    return np.asarray(x)[:, 0, CENTRAL, CENTRAL].mean(axis=(1, 2))
