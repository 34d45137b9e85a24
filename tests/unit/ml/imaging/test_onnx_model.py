"""The shipped ONNX file: small, described by its metadata, and equal to torch on recorded inputs."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from ml.imaging.runtime import ImagingModel


def test_model_file_is_small_and_matches_its_metadata(imaging_dir: Path) -> None:
    onnx_path = imaging_dir / "imaging_prescreen.onnx"
    meta = json.loads((imaging_dir / "imaging_prescreen.json").read_text())
    assert onnx_path.stat().st_size < 5 * 1024 * 1024
    assert meta["sha256"] == hashlib.sha256(onnx_path.read_bytes()).hexdigest()
    assert meta["version"].endswith(meta["sha256"][:12])
    assert 0.0 < meta["threshold"] < 1.0 and meta["intended_use"] == "decision support, not diagnosis"


def test_onnx_matches_recorded_torch_outputs(imaging_dir: Path) -> None:
    fixture = np.load(imaging_dir / "imaging_prescreen_parity.npz")
    session = ort.InferenceSession(str(imaging_dir / "imaging_prescreen.onnx"), providers=["CPUExecutionProvider"])
    score, heatmap = session.run(None, {"image": fixture["x"].astype(np.float32)})
    assert len(fixture["score"]) >= 6 and np.ptp(fixture["score"]) > 0.1  # recorded cases differ
    np.testing.assert_allclose(score, fixture["score"], atol=1e-4)
    np.testing.assert_allclose(heatmap, fixture["heatmap"], atol=1e-4)


def test_opset_is_at_most_17(imaging_dir: Path) -> None:
    onnx = pytest.importorskip("onnx")  # the train extra; the runtime never needs it
    model = onnx.load(str(imaging_dir / "imaging_prescreen.onnx"))
    assert max(op.version for op in model.opset_import if op.domain in ("", "ai.onnx")) <= 17


def test_load_reuses_one_session_per_process(imaging_dir: Path) -> None:
    assert ImagingModel.load(imaging_dir)._session is ImagingModel.load(imaging_dir)._session
