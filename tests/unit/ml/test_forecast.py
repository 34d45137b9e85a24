"""Forecast runtime: shape, band ordering, non-negativity, use of history, and the no-history case."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from ml.forecast.calendar import hours_since_epoch
from ml.forecast.features import profile
from ml.forecast.runtime import ForecastModel

START = datetime(2025, 2, 10, 7, 30)


def typical_history(model: ForecastModel, start: datetime, factor: float = 1.0) -> list[tuple[datetime, int]]:
    hours = [start.replace(minute=0) - timedelta(hours=h) for h in range(672, 0, -1)]
    prof = profile(np.array([hours_since_epoch(h) for h in hours]), model.hour_weekday, model.month)
    return [(h, int(round(p * factor))) for h, p in zip(hours, prof, strict=True)]


@pytest.mark.parametrize("hours", [1, 24, 48, 72])
def test_shape_and_hourly_steps(forecast_model: ForecastModel, hours: int) -> None:
    out = forecast_model.forecast(typical_history(forecast_model, START), START, hours)
    assert len(out) == hours
    assert out[0]["hour"] == "2025-02-10T07:00:00"
    stamps = [datetime.fromisoformat(r["hour"]) for r in out]
    assert all(b - a == timedelta(hours=1) for a, b in zip(stamps, stamps[1:], strict=False))
    assert set(out[0]) == {"hour", "expected", "p10", "p90"}


@pytest.mark.parametrize("history", [None, "typical"])
def test_band_ordered_and_non_negative(forecast_model: ForecastModel, history: str | None) -> None:
    hist = typical_history(forecast_model, START) if history else None
    out = forecast_model.forecast(hist, START, 72)
    for row in out:
        assert 0 <= row["p10"] <= row["expected"] <= row["p90"]
    assert any(r["p90"] > r["p10"] for r in out)


def test_daily_cycle_is_forecast(forecast_model: ForecastModel) -> None:
    out = forecast_model.forecast(None, datetime(2025, 5, 6, 0), 24)
    by_hour = {datetime.fromisoformat(r["hour"]).hour: r["expected"] for r in out}
    assert by_hour[12] > 2 * by_hour[4]


def test_flu_wave_level_in_history_raises_the_forecast(forecast_model: ForecastModel) -> None:
    """Four weeks running 20% above the calendar profile (a flu wave) must carry into the forecast."""
    calm = forecast_model.forecast(typical_history(forecast_model, START), START, 24)
    busy = forecast_model.forecast(typical_history(forecast_model, START, 1.2), START, 24)
    assert sum(r["expected"] for r in busy) > 1.1 * sum(r["expected"] for r in calm)


def test_no_history_equals_typical_history(forecast_model: ForecastModel) -> None:
    none = forecast_model.forecast(None, START, 24)
    typical = forecast_model.forecast(typical_history(forecast_model, START), START, 24)
    np.testing.assert_allclose([r["expected"] for r in none], [r["expected"] for r in typical], rtol=0.15)


def test_timezone_is_kept(forecast_model: ForecastModel) -> None:
    tz = timezone(timedelta(hours=5, minutes=30))
    out = forecast_model.forecast(None, datetime(2025, 1, 5, 10, tzinfo=tz), 24)
    assert out[0]["hour"] == "2025-01-05T10:00:00+05:30"


@pytest.mark.parametrize("hours", [0, 73, -5])
def test_horizon_out_of_range_is_refused(forecast_model: ForecastModel, hours: int) -> None:
    with pytest.raises(ValueError, match="hours"):
        forecast_model.forecast(None, START, hours)
