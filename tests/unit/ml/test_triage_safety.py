"""Safety rules: the ESI model may raise acuity but never lower it below the rules' ceiling."""
from __future__ import annotations

import numpy as np
import pytest

from ml.triage.runtime import TriageModel
from ml.triage.schema import TriageInput
from ml.triage.text import normalise, red_flags, split_negation

CALM = dict(age=35, complaint="mild sore throat", respiratory_rate=16, spo2=98, on_oxygen=False, systolic_bp=122,
            heart_rate=74, consciousness="A", temperature=36.9)


class FixedSession:
    """Stands in for the ONNX session: always answers the same ESI probabilities."""

    def __init__(self, esi: int) -> None:
        self.probs = np.eye(5, dtype=np.float32)[esi - 1]

    def run(self, _outputs: list[str], feeds: dict) -> list[np.ndarray]:
        return [np.tile(self.probs, (len(feeds["numeric"]), 1))]


def model_saying(esi: int) -> TriageModel:
    return TriageModel(session=FixedSession(esi), threshold=0.5, version="fixed")  # type: ignore[arg-type]


@pytest.mark.parametrize("changes,ceiling,flag", [
    ({"consciousness": "U"}, 1, "avpu_u"),
    ({"consciousness": "P"}, 1, "avpu_p"),
    ({"complaint": "cardiac arrest, CPR in progress"}, 1, "cardiac_arrest"),
    ({"complaint": "not breathing"}, 1, "not_breathing"),
    ({"complaint": "found with no pulse"}, 1, "cardiac_arrest"),
    ({"complaint": "choking on food"}, 1, "airway_obstruction"),
    ({"complaint": "anaphylaxis after peanuts", "systolic_bp": 82}, 1, "shock"),
    ({"complaint": "anaphylaxis after peanuts"}, 2, "anaphylaxis"),
    ({"complaint": "anaphylaxsis after peanuts"}, 2, "anaphylaxis"),
    ({"complaint": "heavy bleeding from thigh"}, 2, "major_haemorrhage"),
    ({"complaint": "facial droop and slurred speech"}, 2, "stroke_signs"),
    ({"complaint": "took an overdose"}, 2, "overdose"),
    ({"spo2": 89}, 2, "spo2_lt_90"),
    ({"respiratory_rate": 26, "heart_rate": 135, "on_oxygen": True}, 2, "news2_high"),
])
def test_model_cannot_lower_acuity_below_rules(changes: dict, ceiling: int, flag: str) -> None:
    result = model_saying(5).score(TriageInput(**{**CALM, **changes}))
    assert result.esi_model == 5
    assert result.esi_suggested == ceiling == result.esi_rule_ceiling
    assert flag in result.red_flags


def test_model_may_raise_acuity_above_rules() -> None:
    result = model_saying(1).score(TriageInput(**CALM))
    assert result.esi_rule_ceiling is None and result.esi_suggested == 1


def test_no_rule_means_model_decides() -> None:
    result = model_saying(4).score(TriageInput(**CALM))
    assert result.esi_suggested == 4 and result.red_flags == []
    assert result.label == "decision support, not diagnosis"


@pytest.mark.parametrize("complaint", ["denies chest pain", "no facial droop or slurred speech, twisted ankle",
                                       "no bleeding, denies overdose", "without throat swelling"])
def test_negated_red_flags_do_not_fire(complaint: str) -> None:
    affirmed, negated = split_negation(normalise(complaint))
    assert red_flags(affirmed) == {}
    assert negated


def test_negation_scope_ends_at_but() -> None:
    affirmed, _ = split_negation(normalise("no fever but slurred speech"))
    assert red_flags(affirmed) == {"stroke_signs": 2}


def test_real_model_respects_ceilings(triage_model: TriageModel) -> None:
    for changes in ({"consciousness": "U"}, {"complaint": "not breathing"}, {"spo2": 85},
                    {"complaint": "suicidal with a plan"}):
        result = triage_model.score(TriageInput(**{**CALM, **changes}))
        assert result.esi_suggested <= result.esi_rule_ceiling


def test_real_model_tells_minor_from_major(triage_model: TriageModel) -> None:
    minor = triage_model.score(TriageInput(**{**CALM, "complaint": "needs prescription refill"}))
    major = triage_model.score(TriageInput(**{**CALM, "age": 68, "heart_rate": 112,
                                              "complaint": "crushing chest pain radiating to left arm"}))
    assert minor.esi_suggested >= 4
    assert major.esi_suggested <= 2
