"""Model card for the forecast, written by every training run so it never drifts from the file."""
from __future__ import annotations

from pathlib import Path


def write_card(models_dir: Path, meta: dict, result: dict, size: int) -> None:
    """Write ``forecast.md``: data and generator, method, held-out metrics vs baseline, limits, use."""
    m, b = result["model"], result["seasonal_naive"]
    text = f"""# forecast: hourly ER arrivals, next 1–72 h, with a 10th–90th percentile band

Version `{meta['version']}` · file `forecast.onnx` ({size / 1e6:.2f} MB) · rebuilt by `hms ml train` (seed {meta['seed']}).

## Intended use
Decision support, not diagnosis: staffing and bed planning for the emergency department, shown to managers
as aggregates. The band says how busy it may plausibly get (10th–90th percentile), not a limit.

## Data and generator
Synthetic only: `ml/forecast/generator.py` (numpy, seeded), 2022-01-01 to 2025-12-31, hourly. Mean rate =
base × hour-of-day × weekday × annual season × one flu wave per winter × holidays × random surges
(~1.2/month, 3–12 h, 1.5–2.8×), flu peaks +10–70%; counts negative binomial (gamma–Poisson, dispersion 25).

## Method
Features (`ml/forecast/features.py`): lead, hour, weekday, day-of-year (sin/cos), holiday, calendar profile
(hour×weekday×month, learned in training), same hour 1 and 2 weeks earlier, mean of the last 3/24/168/672 h
and their ratio to the profile. Three HistGradientBoosting heads: Poisson loss for the expected count (ONNX
applies exp() to its log output), quantile loss at 0.1 and 0.9 for the band. Band half-widths scaled by
{meta['band_scale']} so that 80% of hours in a calibration year (2024) fall inside. Training: 2022-01 to
2023-12. One ONNX graph, outputs `expected`, `p10`, `p90`.
Without history, missing hours are filled with the calendar profile: the forecast is the typical pattern for
that hour, weekday and month, blind to a flu wave or surge in progress.

## Held-out metrics (2025, {result['n_origins']} forecasts of 72 h, {result['n_hours_scored']} hour-predictions)
| model | MAE (all leads) | MAE (first 24 h) | 10–90% band coverage | mean band width |
| --- | --- | --- | --- | --- |
| forecast | {m['mae']:.3f} | {m['mae_first_24h']:.3f} | {m['band_coverage']:.3f} | {m['mean_band_width']:.2f} |
| seasonal-naive (same hour last week) | {b['mae']:.3f} | {b['mae_first_24h']:.3f} | – | – |
| forecast without history (calendar profile only) | {m['mae_no_history']:.3f} | – | {m['band_coverage_no_history']:.3f} | – |

MAE improvement over seasonal-naive: {100 * result['mae_improvement']:.1f}% (goal ≥ 15%); coverage goal 80% ± 5.
Recent history lowers MAE from {m['mae_no_history']:.3f} (calendar only) to {m['mae']:.3f}. Known weakness: on the
{result['n_elevated_hours']} hours whose true rate ran ≥ 15% above the calendar profile (flu peaks, surges), MAE is
{m['mae_elevated_hours']:.3f} with history, {m['mae_elevated_hours_no_history']:.3f} calendar-only and
{b['mae_elevated_hours']:.3f} seasonal-naive: most such hours are short random surges that no earlier origin can
see, and history-based forecasts do not beat the calendar there yet.

## Limits
Generated data only: a real hospital must retrain on its own arrivals. Surges are random and cannot be
foreseen; they show only once under way, through the recent-history features. Holidays are fixed-date
(`ml/forecast/calendar.py`). Wall-clock local hours; daylight-saving shifts are not modelled.
"""
    (Path(models_dir) / "forecast.md").write_text(text)
