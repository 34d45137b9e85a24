"""The process-wide model registry: one onnxruntime session per model, made at start-up.

Only onnxruntime, numpy and the standard library are imported here and in the per-model
runtimes, never the training stack. ``InferenceSession.run`` is thread-safe, so one registry
is shared by every worker thread; sessions are sized for a small (2-core) node: intra-op 1–2
threads, inter-op 1, sequential execution.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import onnxruntime as ort

DEFAULT_MODELS_DIR = Path(__file__).resolve().parent / "models"


def session_options(intra_op_threads: int | None = None) -> ort.SessionOptions:
    """Options fit for a 2-core node: at most 2 intra-op threads, 1 inter-op thread."""
    opts = ort.SessionOptions()
    cores = os.cpu_count() or 1
    opts.intra_op_num_threads = intra_op_threads or max(1, min(2, cores))
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    return opts


def make_session(path: Path, intra_op_threads: int | None = None) -> ort.InferenceSession:
    """Open one ``.onnx`` file on the CPU provider with the registry's options."""
    if not path.is_file():
        raise FileNotFoundError(f"model file missing: {path} (run `hms ml train` to rebuild it)")
    return ort.InferenceSession(str(path), sess_options=session_options(intra_op_threads),
                                providers=["CPUExecutionProvider"])


@dataclass
class ModelRegistry:
    """Every shipped model, loaded once per process. ``imaging`` loads on first use."""

    models_dir: Path
    triage: Any
    forecast: Any
    _imaging: Any = field(default=None, repr=False)
    _imaging_error: str | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def load(cls, models_dir: Path = DEFAULT_MODELS_DIR) -> ModelRegistry:
        """Load the triage and forecast models now, so a broken model fails start-up, not a request."""
        from ml.forecast.runtime import ForecastModel
        from ml.triage.runtime import TriageModel

        models_dir = Path(models_dir)
        return cls(models_dir=models_dir, triage=TriageModel.load(models_dir),
                   forecast=ForecastModel.load(models_dir))

    @property
    def imaging(self) -> Any:
        """The imaging pre-screen model; raises ``RuntimeError`` if it is not available in this build."""
        with self._lock:
            if self._imaging is None and self._imaging_error is None:
                try:
                    from ml.imaging.runtime import ImagingModel
                    self._imaging = ImagingModel.load(self.models_dir)
                except (ImportError, OSError) as exc:
                    self._imaging_error = f"imaging model unavailable: {exc}"
            if self._imaging is None:
                raise RuntimeError(self._imaging_error)
            return self._imaging
