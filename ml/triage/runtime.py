"""ESI suggestion at run time: NEWS2 + safety rules in Python, the ESI model in onnxruntime.

The model's answer is decision support for the triage nurse, not diagnosis; the safety
rules set a ceiling the model can only make more urgent.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from ml.runtime import make_session
from ml.triage.features import Prepared, prepare
from ml.triage.rules import apply_ceiling
from ml.triage.schema import TriageInput, TriageResult

MODEL_FILE = "triage_esi.onnx"
META_FILE = "triage_esi.json"


def esi_from_probabilities(probs: np.ndarray, threshold: float) -> int:
    """The most urgent ESI level whose cumulative probability reaches ``threshold``.

    A threshold below 0.5 leans towards the more urgent level when the model hesitates,
    trading a little over-triage for less under-triage.
    """
    cum = np.cumsum(probs)
    return int(np.argmax(cum >= threshold)) + 1


@dataclass
class TriageModel:
    """One ONNX session plus the decision threshold recorded at training time."""

    session: ort.InferenceSession
    threshold: float
    version: str

    @classmethod
    def load(cls, models_dir: Path) -> TriageModel:
        """Open ``triage_esi.onnx`` and its metadata from ``models_dir``."""
        meta = json.loads((Path(models_dir) / META_FILE).read_text())
        return cls(make_session(Path(models_dir) / MODEL_FILE), float(meta["threshold"]), meta["version"])

    def probabilities(self, prepared: list[Prepared]) -> np.ndarray:
        """Model probabilities of ESI 1..5 for prepared requests (batch)."""
        text = np.array([p.tokens for p in prepared], dtype=object).reshape(-1, 1)
        numeric = np.stack([p.numeric for p in prepared]).astype(np.float32)
        return self.session.run(["probabilities"], {"text": text, "numeric": numeric})[0]

    def score(self, request: TriageInput) -> TriageResult:
        """NEWS2, red flags and an ESI suggestion (decision support, not diagnosis)."""
        prepared = prepare(request)
        model_esi = esi_from_probabilities(self.probabilities([prepared])[0], self.threshold)
        return TriageResult(
            news2=prepared.score.score, news2_band=prepared.score.band,
            esi_suggested=apply_ceiling(model_esi, prepared.rules.ceiling),
            red_flags=list(prepared.rules.flags), model_version=self.version,
            parameter_scores=dict(prepared.score.parameter_scores),
            esi_model=model_esi, esi_rule_ceiling=prepared.rules.ceiling)
