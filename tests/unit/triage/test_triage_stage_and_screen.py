"""The triage stage's pure input builder and summary, and the intake's red-flag screening activity."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
from temporalio.testing import ActivityEnvironment

from activities.triage import IntakeActivities, text_red_flags
from workflows.stages import JourneyContext, StageInputError, StageRequest
from workflows.triage_contracts import IntakeScreenInput, TriageAssessmentSummary, TriageState
from workflows.triage_stage import build_input, summarize

CTX = JourneyContext(journey_id="journey-e1", patient_id="p1", encounter_id="e1", ward="medical",
                     attending="attending-1", care_team_id="team-a")


def test_build_input_from_the_stay() -> None:
    inp = build_input(CTX, StageRequest(kind="triage", stage_id="s1", requested_by="nurse-medical-1",
                                        payload={"age": 70, "priority": "urgent"}))
    assert (inp.triage_id, inp.patient_id, inp.journey_id, inp.encounter_id) == ("s1", "p1", "journey-e1", "e1")
    assert (inp.age, inp.priority, inp.attending, inp.ward, inp.patient) == (70, "urgent", "attending-1",
                                                                             "emergency", None)


@pytest.mark.parametrize("payload", [{"age": -1}, {"age": "70"}, {"priority": "asap"}, {"vitals": {}}])
def test_build_input_refuses_bad_payloads(payload: dict) -> None:
    with pytest.raises(StageInputError):
        build_input(CTX, StageRequest(kind="triage", stage_id="s1", requested_by="x", payload=payload))


def test_summarize_dataclass_and_dict() -> None:
    at = datetime(2026, 11, 25, tzinfo=UTC)
    state = TriageState(triage_id="s1", patient_id="p1", journey_id="journey-e1", status="completed", esi=2,
                        news2=7, news2_band="high", physician_seen_by="attending-1",
                        assessments=[TriageAssessmentSummary(0, "initial", 7, "high", 2, 2, "triage-nurse-1", at)])
    expected = {"esi": 2, "news2": 7, "news2_band": "high", "assessments": 1, "physician_seen": True,
                "status": "completed"}
    assert summarize(state) == expected
    assert summarize({"esi": 2, "news2": 7, "news2_band": "high", "assessments": [{}],
                      "physician_seen_by": "attending-1", "status": "completed"}) == expected


def test_text_red_flags_respect_negation() -> None:
    assert "major_haemorrhage" in text_red_flags("vomiting blood since noon")
    assert text_red_flags("no vomiting blood, no chest pain") == {}


def _screen(complaint: str, category: str, answers: dict):  # noqa: ANN202
    acts = IntakeActivities(session_factory=None, ledger=None)  # type: ignore[arg-type]
    return ActivityEnvironment().run(acts.screen, IntakeScreenInput(complaint, category, answers))


def test_screen_flags_complaint_text_and_answers() -> None:
    plain = _screen("chest pain", "chest_pain", {"onset": "under 1 hour", "radiation": True})
    assert plain.red_flags == [] and plain.esi_suggested == 3
    acs = _screen("chest pain", "chest_pain", {"radiation": True, "sweating": True})
    assert acs.red_flags == ["acs_features"] and acs.esi_suggested == 2
    text = _screen("chest pain", "chest_pain", {"anything_else": "he is unresponsive now"})
    assert text.red_flags == ["unresponsive"] and text.esi_suggested == 1
    assert _screen("not breathing", "breathing", {}).esi_suggested == 1
