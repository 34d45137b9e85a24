"""Pure rules of the imaging stage: SLA choice, order and report validation, worklist order, summaries."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from temporalio.exceptions import ApplicationError

from activities.imaging import InvalidStudy, describe_dicom, worklist_key
from workflows.imaging import build_input, summarize, validate_report
from workflows.imaging_contracts import ImagingResult, report_sla
from workflows.stages import JourneyContext, StageInputError, StageRequest

CTX = JourneyContext(journey_id="journey-e1", patient_id="p1", encounter_id="e1", ward="medical",
                     attending="attending-1", care_team_id="team-a")
ORDER = {"modality": "CR", "body_site": "51185008", "priority": "routine", "reason_code": "R05"}


@pytest.mark.parametrize(("priority", "flagged", "expected"), [
    ("routine", False, timedelta(hours=24)), ("routine", None, timedelta(hours=24)),
    ("routine", True, timedelta(minutes=30)), ("urgent", False, timedelta(minutes=30)),
    ("urgent", True, timedelta(minutes=30)),
])
def test_sla_is_30_minutes_for_flagged_or_urgent_else_24_hours(priority, flagged, expected) -> None:
    assert report_sla(priority, flagged) == expected


def test_order_payload_becomes_the_stage_input() -> None:
    inp = build_input(CTX, StageRequest(kind="imaging", stage_id="o-1", requested_by="attending-1", payload=ORDER))
    assert (inp.order_id, inp.patient_id, inp.modality, inp.priority, inp.ward) == ("o-1", "p1", "CR", "routine",
                                                                                     "medical")
    assert inp.radiologist is None and inp.requested_by == "attending-1"


@pytest.mark.parametrize(("change", "field"), [
    ({"modality": "XR"}, "modality"), ({"priority": "stat"}, "priority"), ({"body_site": "left lung apex"},
                                                                            "body_site"),
    ({"reason_code": ""}, "reason_code"), ({"notes": "x"}, "unknown"), ({"radiologist": 7}, "radiologist"),
])
def test_bad_order_payload_names_the_field(change: dict, field: str) -> None:
    with pytest.raises(StageInputError, match=field):
        build_input(CTX, StageRequest(kind="imaging", stage_id="o-1", requested_by="a", payload={**ORDER, **change}))


GOOD_REPORT = {"findings_code": "RID5352", "impression": "Right lower lobe nodule.", "conclusion": "Follow-up CT.",
               "abnormal": True}


def test_a_complete_report_passes() -> None:
    validate_report(GOOD_REPORT)


@pytest.mark.parametrize(("change", "field"), [
    ({"abnormal": "yes"}, "abnormal"), ({"findings_code": "two words"}, "findings_code"),
    ({"impression": ""}, "impression"), ({"conclusion": "x" * 5000}, "conclusion"), ({"extra": 1}, "unknown"),
])
def test_bad_report_is_an_invalid_task_payload_naming_the_field(change: dict, field: str) -> None:
    with pytest.raises(ApplicationError, match=field) as err:
        validate_report({**GOOD_REPORT, **change})
    assert err.value.type == "InvalidTaskPayload"


def test_worklist_puts_flagged_first_then_score_then_longest_wait() -> None:
    t0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
    items = [
        {"id": "old-unflagged", "ai_flagged": False, "ai_score": 0.20, "waiting_since": t0},
        {"id": "flagged-low", "ai_flagged": True, "ai_score": 0.40, "waiting_since": t0 + timedelta(minutes=1)},
        {"id": "unscored", "ai_flagged": None, "ai_score": None, "waiting_since": t0 - timedelta(hours=1)},
        {"id": "flagged-high-new", "ai_flagged": True, "ai_score": 0.90, "waiting_since": t0 + timedelta(hours=2)},
        {"id": "flagged-high-old", "ai_flagged": True, "ai_score": 0.90, "waiting_since": t0},
        {"id": "unflagged-higher", "ai_flagged": False, "ai_score": 0.22, "waiting_since": t0 + timedelta(hours=1)},
    ]
    assert [i["id"] for i in sorted(items, key=worklist_key)] == [
        "flagged-high-old", "flagged-high-new", "flagged-low", "unflagged-higher", "old-unflagged", "unscored"]


def test_stage_summary_carries_codes_never_report_text() -> None:
    result = ImagingResult(order_id="o-1", status="reported", study_id="study-o-1", report_id="report-o-1",
                           findings_code="RID5352", abnormal=True, ai_flagged=True, ai_score=0.93, sla_breaches=1)
    summary = summarize(result.__dict__)
    assert summary == {"order_id": "o-1", "study_id": "study-o-1", "report_id": "report-o-1",
                       "findings_code": "RID5352", "abnormal": True, "ai_flagged": True, "sla_breaches": 1}
    assert summarize(result) == summary


def test_describe_dicom_accepts_a_real_radiograph_and_refuses_other_bytes() -> None:
    from pydicom.data import get_testdata_file

    assert describe_dicom(open(get_testdata_file("RG1_UNCR.dcm"), "rb").read()) == "CR"
    for junk in (b"", b"%PDF-1.7 not an image", b"\x00" * 200):
        with pytest.raises(InvalidStudy):
            describe_dicom(junk)



def test_study_charge_key_and_code_follow_billing_conventions() -> None:
    import json
    from pathlib import Path

    import activities
    from workflows.imaging import study_charge_code, study_charge_key
    from workflows.imaging_contracts import MODALITIES

    tariff = json.loads((Path(activities.__file__).parent / "billing_tariff.json").read_text())
    assert study_charge_key("study-o-1") == "imaging:study-o-1"
    assert study_charge_code("CR") == study_charge_code("DX") == "IMG-XR" and study_charge_code("NM") == "IMG-OTHER"
    assert {study_charge_code(m) for m in MODALITIES} <= {row["code"] for row in tariff["items"]}
