"""Hourly ER-arrival forecast at run time (onnxruntime + numpy), with a 10th–90th percentile band.

Decision support for bed and staff planning, not a guarantee. Without history (or with gaps),
missing hours are filled with the calendar profile learned at training time: the forecast is
then the typical pattern for that hour, weekday and month, and cannot see a flu wave or a
surge in progress.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import onnxruntime as ort

from ml.forecast.calendar import from_hour_index, hours_since_epoch
from ml.forecast.features import HISTORY_HOURS, MAX_HORIZON, make_features, profile
from ml.runtime import make_session

MODEL_FILE = "forecast.onnx"
META_FILE = "forecast.json"


@dataclass
class ForecastModel:
    """One ONNX session (mean, p10, p90 heads) plus the calendar profile from training."""

    session: ort.InferenceSession
    hour_weekday: np.ndarray
    month: np.ndarray
    version: str

    @classmethod
    def load(cls, models_dir: Path) -> ForecastModel:
        """Open ``forecast.onnx`` and its metadata from ``models_dir``."""
        meta = json.loads((Path(models_dir) / META_FILE).read_text())
        return cls(make_session(Path(models_dir) / MODEL_FILE), np.asarray(meta["profile_hour_weekday"]),
                   np.asarray(meta["profile_month"]), meta["version"])

    def predict_rows(self, x: np.ndarray) -> np.ndarray:
        """(expected, p10, p90) per feature row, ordered p10 ≤ expected ≤ p90 and non-negative."""
        mean, p10, p90 = self.session.run(["expected", "p10", "p90"], {"features": x.astype(np.float32)})
        mean = np.maximum(mean.reshape(-1), 0.0)
        lo = np.clip(p10.reshape(-1), 0.0, mean)
        hi = np.maximum(p90.reshape(-1), mean)
        return np.column_stack([mean, lo, hi])

    def forecast(self, history: Sequence[tuple[datetime, int]] | None, start: datetime,
                 hours: int = 24) -> list[dict]:
        """Hourly arrivals for ``hours`` (1–72) hours from ``start`` (floored to the hour).

        ``history`` holds (hour, count) pairs before ``start``; only the last 672 h are used.
        """
        if not 1 <= hours <= MAX_HORIZON:
            raise ValueError(f"hours must be between 1 and {MAX_HORIZON}")
        start_h = start.replace(minute=0, second=0, microsecond=0)
        o_idx = hours_since_epoch(start_h)
        idx = np.arange(o_idx - HISTORY_HOURS, o_idx + hours)
        prof = profile(idx, self.hour_weekday, self.month)
        y = prof.copy()
        for ts, count in history or ():
            pos = hours_since_epoch(ts) - idx[0]
            if 0 <= pos < HISTORY_HOURS:
                y[pos] = float(count)
        x = make_features(y, prof, idx, np.array([HISTORY_HOURS]), hours)
        rows = self.predict_rows(x)
        tz = start.tzinfo
        out = []
        for k, (mean, lo, hi) in enumerate(rows):
            ts = from_hour_index(o_idx + k)
            out.append({"hour": (ts.replace(tzinfo=tz) if tz else ts).isoformat(), "expected": round(float(mean), 3),
                        "p10": round(float(lo), 3), "p90": round(float(hi), 3)})
        return out

