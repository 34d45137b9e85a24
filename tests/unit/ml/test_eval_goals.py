"""The committed models meet their goals on freshly generated held-out data."""
from __future__ import annotations

from pathlib import Path

import pytest

from ml.cli import eval_results, format_eval


@pytest.fixture(scope="module")
def results(models_dir: Path) -> dict:
    return eval_results(models_dir)


def test_forecast_beats_seasonal_naive_by_15_percent(results: dict) -> None:
    f = results["forecast"]
    assert f["model"]["mae"] <= 0.85 * f["seasonal_naive"]["mae"]
    assert f["n_hours_scored"] > 10_000


def test_forecast_band_coverage_near_80_percent(results: dict) -> None:
    assert 0.75 <= results["forecast"]["model"]["band_coverage"] <= 0.85


def test_triage_never_under_triages_rule_critical_cases(results: dict) -> None:
    t = results["triage_esi"]
    assert t["model"]["n_rule_critical"] > 100
    assert t["model"]["under_triage_rule_critical"] == 0.0


def test_triage_macro_f1_at_least_rules_only(results: dict) -> None:
    t = results["triage_esi"]
    assert t["model"]["macro_f1"] >= t["rules_only"]["macro_f1"]
    assert t["model"]["under_triage"] <= t["rules_only"]["under_triage"]


def test_report_puts_metrics_next_to_baselines(results: dict) -> None:
    text = format_eval(results)
    assert "rules-only baseline" in text and "seasonal-naive baseline" in text
    assert f"{results['forecast']['model']['mae']:.3f}" in text
    assert f"{results['triage_esi']['rules_only']['macro_f1']:.3f}" in text
