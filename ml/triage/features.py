"""Feature preparation shared by training and runtime (numpy and the standard library only).

One function turns a ``TriageInput`` into exactly what the ONNX model takes: a token string
for its TF-IDF layer and a float vector of engineered clinical features (NEWS2 parameter
scores, ACVPU, danger-zone flags for age, safety-rule outputs, stated pain), so the model
learns from the same signals a triage nurse weighs.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ml.triage.news2 import News2Result, Vitals, news2
from ml.triage.rules import RuleOutcome, safety_rules
from ml.triage.schema import TriageInput
from ml.triage.text import RED_FLAG_LEXICON, model_tokens, normalise, pain_score, red_flags, split_negation

_PARAMS = ["respiratory_rate", "spo2", "air_or_oxygen", "systolic_bp", "heart_rate", "consciousness",
           "temperature"]
_AGE_BANDS = [0, 2, 7, 17, 64, 200]
_SEVERE_WORDS = {"severe", "excruciating", "worst", "unbearable", "agonising", "agonizing", "crushing"}

NUMERIC_NAMES: list[str] = (
    [f"n2_{p}" for p in _PARAMS] + ["n2_total", "n2_single3", "n2_medium", "n2_high"]
    + [f"avpu_{c}" for c in "ACVPU"] + [f"age_le_{a}" for a in _AGE_BANDS]
    + ["dz_hr", "dz_rr", "dz_spo2", "infant_fever", "ceiling_1", "ceiling_2"]
    + [f"flag_{c}" for c in RED_FLAG_LEXICON]
    + ["pain_ge7", "severe_word", "rr", "spo2", "sbp", "hr", "temp", "age", "on_oxygen", "scale2"]
)


@dataclass(frozen=True)
class Prepared:
    """Model inputs plus the deterministic results the runtime also reports."""

    tokens: str
    numeric: np.ndarray
    score: News2Result
    rules: RuleOutcome


def prepare(req: TriageInput) -> Prepared:
    """Compute NEWS2, the safety rules and the model's inputs for one request."""
    score = news2(Vitals(req.respiratory_rate, req.spo2, req.on_oxygen, req.systolic_bp, req.heart_rate,
                         req.consciousness, req.temperature, req.spo2_scale))
    text = normalise(req.complaint)
    affirmed, negated = split_negation(text)
    cflags = red_flags(affirmed)
    rules = safety_rules(req, score, cflags)
    pain = pain_score(" ".join(affirmed))
    v: list[float] = [float(score.parameter_scores[p]) for p in _PARAMS]
    v += [score.score / 10.0, float(score.single_parameter_3), float(score.band == "medium"),
          float(score.band == "high")]
    v += [float(req.consciousness == c) for c in "ACVPU"]
    lo = -1
    for hi in _AGE_BANDS:
        v.append(float(lo < req.age <= hi))
        lo = hi
    flags = set(rules.flags)
    v += [float("danger_zone_hr" in flags), float("danger_zone_rr" in flags), float("danger_zone_spo2" in flags),
          float(req.age == 0 and req.temperature >= 38.0), float(rules.ceiling == 1), float(rules.ceiling == 2)]
    v += [float(c in cflags) for c in RED_FLAG_LEXICON]
    v += [float(pain is not None and pain >= 7), float(bool(_SEVERE_WORDS & set(affirmed))),
          req.respiratory_rate / 20.0, req.spo2 / 100.0, req.systolic_bp / 120.0, req.heart_rate / 80.0,
          (req.temperature - 37.0), req.age / 50.0, float(req.on_oxygen), float(req.spo2_scale == 2)]
    return Prepared(model_tokens(affirmed, negated), np.asarray(v, dtype=np.float32), score, rules)
