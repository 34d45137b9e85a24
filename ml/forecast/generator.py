"""Synthetic hourly emergency-department arrivals (numpy only, seeded, documented).

Mean arrivals per hour = base × hour-of-day profile × weekday factor × season × flu waves ×
holidays × random surge events; counts are negative binomial around that mean (gamma–Poisson
mixture, dispersion ``R``), because real arrivals are overdispersed relative to Poisson.
- hour of day: trough 04–06 h (~0.35×), plateau late morning to evening (~1.5×)
- weekday: Monday busiest (1.12×), weekend quieter (0.93×)
- season: ±8% annual cosine, peaking mid-January
- flu: one wave per winter, centred on a random day 1 Dec–28 Feb, width (sd) 10–30 days, +10–70% at peak
  (seasons differ a lot in size, so the calendar alone cannot know this winter's wave)
- holidays (``calendar.HOLIDAYS``): 0.85×
- surges: ~1.2 per month, 3–12 h long, 1.5–2.8× (mass-casualty, heat, events)
"""
from __future__ import annotations

from datetime import datetime

import numpy as np

from ml.forecast.calendar import calendar_arrays, hours_since_epoch

BASE_PER_HOUR = 6.5
R = 25.0
_HOUR = np.array([0.62, 0.52, 0.45, 0.39, 0.35, 0.36, 0.45, 0.68, 0.98, 1.27, 1.45, 1.52, 1.50, 1.46, 1.42,
                  1.40, 1.41, 1.44, 1.46, 1.40, 1.28, 1.12, 0.93, 0.76])
_WEEKDAY = np.array([1.12, 1.04, 1.01, 1.00, 1.01, 0.93, 0.94])


def mean_rate(start: datetime, end: datetime, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Hour indices in [start, end) and their expected arrivals, reproducible from ``seed``."""
    rng = np.random.default_rng(seed)
    idx = np.arange(hours_since_epoch(start), hours_since_epoch(end))
    cal = calendar_arrays(idx)
    hour_prof = _HOUR / _HOUR.mean()
    mu = BASE_PER_HOUR * hour_prof[cal["hour"]] * _WEEKDAY[cal["weekday"]]
    mu *= 1 + 0.08 * np.cos(2 * np.pi * (cal["doy"] - 15) / 365.25)
    mu *= np.where(cal["holiday"], 0.85, 1.0)
    day = idx / 24.0
    for year in range(start.year - 1, end.year + 1):
        centre = (datetime(year, 12, 1) - datetime(2000, 1, 1)).days + rng.uniform(0, 89)
        width, amp = rng.uniform(10, 30), rng.uniform(0.1, 0.7)
        mu *= 1 + amp * np.exp(-0.5 * ((day - centre) / width) ** 2)
    n_surges = rng.poisson(1.2 * len(idx) / (24 * 30.4))
    for _ in range(n_surges):
        s = int(rng.integers(0, len(idx)))
        mu[s:s + int(rng.integers(3, 13))] *= rng.uniform(1.5, 2.8)
    return idx, mu


def generate(start: datetime, end: datetime, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Hour indices and negative-binomial arrival counts in [start, end)."""
    idx, mu = mean_rate(start, end, seed)
    rng = np.random.default_rng(seed + 1)
    lam = rng.gamma(R, mu / R)
    return idx, rng.poisson(lam).astype(np.int64)
