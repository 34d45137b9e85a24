"""Held-out evaluation of the shipped ESI model against the rules-only baseline.

Runs only onnxruntime and numpy: it scores freshly generated cases (a seed the training run
never used) with the committed model, exactly as the runtime would.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ml.triage.features import prepare
from ml.triage.generator import generate
from ml.triage.rules import apply_ceiling, rules_only_esi
from ml.triage.runtime import META_FILE, TriageModel, esi_from_probabilities

HELDOUT_N = 6000


def metrics(true: np.ndarray, pred: np.ndarray, critical: np.ndarray) -> dict[str, float]:
    """Accuracy, macro-F1 over ESI 1..5, under-/over-triage rates, under-triage of rule-critical cases."""
    f1s = []
    for k in range(1, 6):
        tp = np.sum((pred == k) & (true == k))
        denom = np.sum(pred == k) + np.sum(true == k)
        f1s.append(2 * tp / denom if denom else 0.0)
    return {
        "accuracy": float(np.mean(pred == true)),
        "macro_f1": float(np.mean(f1s)),
        "under_triage": float(np.mean(pred > true)),
        "over_triage": float(np.mean(pred < true)),
        "under_triage_rule_critical": float(np.mean(pred[critical] > true[critical])) if critical.any() else 0.0,
        "n": int(len(true)),
        "n_rule_critical": int(critical.sum()),
    }


def score_cases(model: TriageModel, cases: list, threshold: float | None = None) -> dict[str, dict]:
    """Model-with-rules and rules-only metrics on labelled cases."""
    prepared = [prepare(req) for req, _, _ in cases]
    probs = np.concatenate([model.probabilities(prepared[i:i + 512]) for i in range(0, len(prepared), 512)])
    t = model.threshold if threshold is None else threshold
    pred = np.array([apply_ceiling(esi_from_probabilities(p, t), pp.rules.ceiling)
                     for p, pp in zip(probs, prepared, strict=True)])
    base = np.array([rules_only_esi(pp.rules, pp.score) for pp in prepared])
    true = np.array([e for _, e, _ in cases])
    crit = np.array([c for _, _, c in cases], dtype=bool)
    return {"model": metrics(true, pred, crit), "rules_only": metrics(true, base, crit)}


def evaluate(models_dir: Path) -> dict:
    """Metrics of the committed model on held-out generated cases (seed recorded in its metadata)."""
    meta = json.loads((Path(models_dir) / META_FILE).read_text())
    model = TriageModel.load(models_dir)
    return score_cases(model, generate(HELDOUT_N, int(meta["heldout_seed"])))
