"""Shared fixtures for the ML unit tests: the committed models, loaded once."""
from __future__ import annotations

from pathlib import Path

import pytest

from ml.runtime import DEFAULT_MODELS_DIR


@pytest.fixture(scope="session")
def models_dir() -> Path:
    return DEFAULT_MODELS_DIR


@pytest.fixture(scope="session")
def triage_model(models_dir: Path):
    from ml.triage.runtime import TriageModel

    return TriageModel.load(models_dir)


@pytest.fixture(scope="session")
def forecast_model(models_dir: Path):
    from ml.forecast.runtime import ForecastModel

    return ForecastModel.load(models_dir)
