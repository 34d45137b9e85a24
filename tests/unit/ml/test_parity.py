"""ONNX models reproduce the training framework's outputs recorded at training time.

The fixtures (inputs and scikit-learn outputs) were written by ``hms ml train`` next to the
models, so this runs without the ``train`` extra.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ml.runtime import make_session


def test_triage_onnx_matches_sklearn(models_dir: Path) -> None:
    fixture = json.loads((models_dir / "triage_esi_parity.json").read_text())
    session = make_session(models_dir / "triage_esi.onnx")
    probs = session.run(["probabilities"], {
        "text": np.array(fixture["tokens"], dtype=object).reshape(-1, 1),
        "numeric": np.asarray(fixture["numeric"], dtype=np.float32)})[0]
    expected = np.asarray(fixture["probabilities"])
    assert probs.shape == expected.shape == (len(fixture["tokens"]), 5)
    np.testing.assert_allclose(probs, expected, atol=1e-4)
    assert (probs.argmax(1) == expected.argmax(1)).all()


def test_forecast_onnx_matches_sklearn(models_dir: Path) -> None:
    fixture = json.loads((models_dir / "forecast_parity.json").read_text())
    session = make_session(models_dir / "forecast.onnx")
    x = np.asarray(fixture["features"], dtype=np.float32)
    expected, p10, p90 = session.run(["expected", "p10", "p90"], {"features": x})
    assert len(x) >= 50
    np.testing.assert_allclose(expected.ravel(), fixture["expected"], rtol=2e-3, atol=2e-3)
    np.testing.assert_allclose(p10.ravel(), fixture["p10"], rtol=2e-3, atol=2e-3)
    np.testing.assert_allclose(p90.ravel(), fixture["p90"], rtol=2e-3, atol=2e-3)


def test_model_files_are_small(models_dir: Path) -> None:
    for name in ("triage_esi.onnx", "forecast.onnx"):
        assert (models_dir / name).stat().st_size < 30 * 1024 * 1024
        card = (models_dir / name.replace(".onnx", ".md")).read_text()
        assert "decision support, not diagnosis" in card.lower()
