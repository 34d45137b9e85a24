"""Calendar facts the forecast may use: hour, weekday, season and the hospital's holidays.

Shared by the generator and the runtime so features match. Holidays are fixed-date public
holidays; a hospital with movable feasts edits ``HOLIDAYS`` and retrains.
"""
from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np

HOLIDAYS: frozenset[tuple[int, int]] = frozenset({(1, 1), (1, 26), (5, 1), (8, 15), (10, 2), (12, 25), (12, 31)})
EPOCH = datetime(2000, 1, 1)


def hours_since_epoch(ts: datetime) -> int:
    """Whole hours from 2000-01-01 00:00 (wall clock): the index of an hourly series."""
    return int((ts.replace(tzinfo=None) - EPOCH) // timedelta(hours=1))


def from_hour_index(idx: int) -> datetime:
    """Inverse of ``hours_since_epoch``."""
    return EPOCH + timedelta(hours=int(idx))


def calendar_arrays(idx: np.ndarray) -> dict[str, np.ndarray]:
    """Hour of day, weekday (Mon=0), day of year, month (1–12) and holiday flag for hour indices."""
    days = idx // 24
    base = np.datetime64("2000-01-01", "D") + days.astype("timedelta64[D]")
    years = base.astype("datetime64[Y]")
    months = (base.astype("datetime64[M]") - years.astype("datetime64[M]")).astype(int) + 1
    dom = (base - base.astype("datetime64[M]")).astype(int) + 1
    doy = (base - years).astype(int) + 1
    weekday = (days + 5) % 7  # 2000-01-01 was a Saturday
    holiday = np.array([(int(m), int(d)) in HOLIDAYS for m, d in zip(months, dom, strict=True)], dtype=bool)
    return {"hour": idx % 24, "weekday": weekday, "doy": doy, "month": months, "holiday": holiday}
