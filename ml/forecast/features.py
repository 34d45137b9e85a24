"""Forecast features from the calendar and the recent history a hospital actually has.

For a forecast made at origin hour ``o`` (history known strictly before ``o``) for target hour
``t = o + lead - 1`` (lead 1..72): calendar of ``t``, the typical level for that slot (the
calendar profile learned in training), counts at ``t-168`` and ``t-336`` (same hour 1 and 2
weeks earlier, always before ``o``), and recent level (last 3/24/168/672 h, raw and relative
to the profile), which is how flu waves and ongoing surges reach the forecast.
"""
from __future__ import annotations

import numpy as np

from ml.forecast.calendar import calendar_arrays

HISTORY_HOURS = 672
MAX_HORIZON = 72
FEATURE_NAMES = ["lead", "hour", "weekday", "doy_sin", "doy_cos", "holiday", "profile", "lag168", "lag336",
                 "mean3", "mean24", "mean168", "mean672", "ratio24", "ratio168", "ratio672"]


def profile(idx: np.ndarray, hour_weekday: np.ndarray, month: np.ndarray) -> np.ndarray:
    """Typical arrivals per hour: hour×weekday mean times a month factor (learned in training)."""
    cal = calendar_arrays(idx)
    return hour_weekday[cal["weekday"], cal["hour"]] * month[cal["month"] - 1]


def make_features(y: np.ndarray, prof: np.ndarray, idx: np.ndarray, origins: np.ndarray,
                  horizon: int) -> np.ndarray:
    """Feature rows, origin-major then lead, for positions ``origins`` in series arrays.

    ``y``/``prof``/``idx`` are aligned hourly arrays; ``y`` must be known before each origin and
    ``origins`` must be ≥ ``HISTORY_HOURS``. Arrays must extend ``horizon`` hours past the last origin
    (``y`` there is ignored).
    """
    yc = np.concatenate([[0.0], np.cumsum(np.nan_to_num(y.astype(np.float64)))])
    pc = np.concatenate([[0.0], np.cumsum(prof.astype(np.float64))])
    leads = np.arange(1, horizon + 1)
    o = np.repeat(origins, horizon)
    lead = np.tile(leads, len(origins))
    t = o + lead - 1
    cal = calendar_arrays(idx[t])
    cols = [lead, cal["hour"], cal["weekday"], np.sin(2 * np.pi * cal["doy"] / 365.25),
            np.cos(2 * np.pi * cal["doy"] / 365.25), cal["holiday"].astype(float), prof[t],
            y[t - 168], y[t - 336]]
    for k in (3, 24, 168, 672):
        cols.append((yc[o] - yc[o - k]) / k)
    for k in (24, 168, 672):
        cols.append((yc[o] - yc[o - k]) / np.maximum(pc[o] - pc[o - k], 1e-6))
    return np.column_stack(cols).astype(np.float32)
