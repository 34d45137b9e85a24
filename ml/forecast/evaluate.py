"""Held-out evaluation of the shipped forecast against seasonal-naive (same hour last week).

Uses only onnxruntime and numpy: regenerates the series from the seed recorded at training
time and scores 2025, a year training and calibration never saw, with forecasts of 72 h
made every 13 h (so origins fall at every hour of the day).
"""
from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import numpy as np

from ml.forecast.calendar import hours_since_epoch
from ml.forecast.features import MAX_HORIZON, make_features, profile
from ml.forecast.generator import generate, mean_rate
from ml.forecast.runtime import META_FILE, ForecastModel

SERIES_START = datetime(2022, 1, 1)
SERIES_END = datetime(2026, 1, 1)
TEST_START = datetime(2025, 1, 1)


def evaluate_series(models_dir: Path, idx: np.ndarray, y: np.ndarray, mu: np.ndarray) -> dict:
    """MAE and 10–90% band coverage of model and seasonal-naive on the 2025 test year.

    ``mu`` is the generator's true mean rate: hours where it runs ≥ 15% above the calendar profile
    (flu waves, surges) are also scored apart, since that is where recent history should pay off.
    """
    model = ForecastModel.load(models_dir)
    prof = profile(idx, model.hour_weekday, model.month)
    start = hours_since_epoch(TEST_START) - idx[0]
    origins = np.arange(start, len(y) - MAX_HORIZON, 13)
    x = make_features(y.astype(np.float64), prof, idx, origins, MAX_HORIZON)
    t = np.repeat(origins, MAX_HORIZON) + np.tile(np.arange(MAX_HORIZON), len(origins))
    truth = y[t].astype(np.float64)
    rows = np.concatenate([model.predict_rows(x[i:i + 4096]) for i in range(0, len(x), 4096)])
    x_blind = make_features(prof.astype(np.float64), prof, idx, origins, MAX_HORIZON)
    blind = np.concatenate([model.predict_rows(x_blind[i:i + 4096]) for i in range(0, len(x_blind), 4096)])
    naive = y[t - 168].astype(np.float64)
    mae, mae_naive = float(np.mean(np.abs(rows[:, 0] - truth))), float(np.mean(np.abs(naive - truth)))
    lead24 = x[:, 0] <= 24
    hot = mu[t] >= 1.15 * prof[t]
    return {
        "model": {"mae": mae, "mae_first_24h": float(np.mean(np.abs(rows[lead24, 0] - truth[lead24]))),
                  "band_coverage": float(np.mean((rows[:, 1] <= truth) & (truth <= rows[:, 2]))),
                  "mean_band_width": float(np.mean(rows[:, 2] - rows[:, 1])),
                  "mae_no_history": float(np.mean(np.abs(blind[:, 0] - truth))),
                  "band_coverage_no_history": float(np.mean((blind[:, 1] <= truth) & (truth <= blind[:, 2]))),
                  "mae_elevated_hours": float(np.mean(np.abs(rows[hot, 0] - truth[hot]))),
                  "mae_elevated_hours_no_history": float(np.mean(np.abs(blind[hot, 0] - truth[hot])))},
        "seasonal_naive": {"mae": mae_naive,
                           "mae_first_24h": float(np.mean(np.abs(naive[lead24] - truth[lead24]))),
                           "mae_elevated_hours": float(np.mean(np.abs(naive[hot] - truth[hot])))},
        "n_elevated_hours": int(hot.sum()),
        "mae_improvement": 1 - mae / mae_naive,
        "n_hours_scored": int(len(truth)),
        "n_origins": int(len(origins)),
    }


def evaluate(models_dir: Path) -> dict:
    """Metrics of the committed model on the held-out year of the series regenerated from its seed."""
    meta = json.loads((Path(models_dir) / META_FILE).read_text())
    idx, y = generate(SERIES_START, SERIES_END, int(meta["seed"]))
    _, mu = mean_rate(SERIES_START, SERIES_END, int(meta["seed"]))
    return evaluate_series(models_dir, idx, y, mu)
