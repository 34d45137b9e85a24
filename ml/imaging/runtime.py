"""Score radiographs with the shipped pre-screen: onnxruntime, numpy and pydicom only (never torch).

One onnxruntime session per model directory per process, created by :meth:`ImagingModel.load` and
reused by every later ``load`` — sessions are costly to build and safe to share across threads.
Every result is labelled decision support: the score ranks plates for earlier review by a
radiologist; it does not say what is or is not on the image.
"""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import onnxruntime as ort

from ml.imaging.preprocess import InvalidImage, PixelMeta, read_dicom, to_display, to_model_input

__all__ = ["ImagingModel", "ImagingScore", "InvalidImage", "example_input"]

MODEL_FILE = "imaging_prescreen.onnx"
META_FILE = "imaging_prescreen.json"
NOTE = "decision support, not diagnosis"
_SESSIONS: dict[tuple[Path, int], tuple[ort.InferenceSession, dict]] = {}
_LOCK = threading.Lock()


@dataclass(frozen=True)
class ImagingScore:
    """One pre-screen result. ``heatmap`` is a 16×16 grid of per-region probabilities (row-major,
    top of the image first) when requested, else ``None``."""

    anomaly_score: float
    flagged: bool
    threshold: float
    model_version: str
    heatmap: list[list[float]] | None = None
    note: str = NOTE


def _session_options(threads: int) -> ort.SessionOptions:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return opts


class ImagingModel:
    """The loaded pre-screen: call :meth:`load`, then score DICOM files or arrays."""

    def __init__(self, session: ort.InferenceSession, meta: dict) -> None:
        self._session = session
        self.threshold = float(meta["threshold"])
        self.version = str(meta["version"])
        self.input_size = int(meta["input_size"])

    @classmethod
    def load(cls, models_dir: Path, threads: int = 2) -> ImagingModel:
        """Load (or reuse) the process-wide session for ``models_dir`` (a retrained file gets a new one)."""
        folder = Path(models_dir).resolve()
        try:
            key = (folder, (folder / MODEL_FILE).stat().st_mtime_ns)
        except FileNotFoundError as exc:
            raise FileNotFoundError(f"no imaging model in {folder}: run `hms ml train`") from exc
        with _LOCK:
            if key not in _SESSIONS:
                meta = json.loads((folder / META_FILE).read_text())
                session = ort.InferenceSession(str(folder / MODEL_FILE), sess_options=_session_options(threads),
                                               providers=["CPUExecutionProvider"])
                _SESSIONS[key] = (session, meta)
            session, meta = _SESSIONS[key]
        return cls(session, meta)

    def score_dicom(self, data: bytes | Path | BinaryIO, heatmap: bool = True) -> ImagingScore:
        """Score a DICOM radiograph given as bytes, a path or a binary file object.

        Raises :class:`InvalidImage` for anything that is not a single-frame grayscale DICOM image.
        """
        pixels, meta = read_dicom(data)
        return self._score(to_model_input(to_display(pixels, meta)), heatmap)

    def score_array(self, img: np.ndarray, heatmap: bool = True) -> ImagingScore:
        """Score a 2-D grayscale array of any size and value range, brighter = denser (MONOCHROME2).

        The array is windowed on its 0.5–99.5 percentiles, exactly as a DICOM without a window is.
        """
        return self._score(to_model_input(to_display(img, PixelMeta())), heatmap)

    def score(self, image: bytes | Path | np.ndarray) -> ImagingScore:
        """Dispatch: arrays go to :meth:`score_array`, bytes and paths to :meth:`score_dicom`."""
        if isinstance(image, np.ndarray):
            return self.score_array(image)
        return self.score_dicom(image)

    def score_batch(self, inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Raw probabilities for already-preprocessed ``(B, 1, 128, 128)`` inputs (evaluation, benches)."""
        score, heat = self._session.run(None, {"image": np.ascontiguousarray(inputs, dtype=np.float32)})
        return score, heat

    def _score(self, x: np.ndarray, heatmap: bool) -> ImagingScore:
        score, heat = self.score_batch(x)
        value = float(score[0])
        grid = np.round(heat[0, 0].astype(np.float64), 3).tolist() if heatmap else None
        return ImagingScore(anomaly_score=value, flagged=value >= self.threshold, threshold=self.threshold,
                            model_version=self.version, heatmap=grid)


def example_input(seed: int = 0) -> np.ndarray:
    """A generated 2-D plate (MONOCHROME2 orientation) for benchmarks and smoke tests; no patient data."""
    from ml.imaging.synth import synth_case

    case = synth_case(np.random.default_rng(seed), anomalous=False)
    pixels = case.pixels.astype(np.float32)
    return pixels.max() - pixels if case.meta.photometric == "MONOCHROME1" else pixels
