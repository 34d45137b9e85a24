"""Order validation, dose schedules and task payload rules of the pharmacy stage (pure functions)."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from temporalio.exceptions import ApplicationError

from workflows.pharmacy import build_pharmacy_input, summarize_pharmacy
from workflows.pharmacy_contracts import (
    DOSE,
    MISSED,
    STOCK,
    VERIFY,
    dose_times,
    parse_order,
    validate_payload,
)
from workflows.stages import JourneyContext, StageInputError, StageRequest

ORDER = {"drug_code": "723", "dose": 500, "unit": "mg", "route": "PO", "frequency_hours": 8, "duration_days": 3}


def test_valid_order_computes_doses_from_duration() -> None:
    spec = parse_order(ORDER)
    assert (spec.drug_code, spec.dose, spec.frequency_hours, spec.doses) == ("723", 500.0, 8, 9)
    assert parse_order({**ORDER, "duration_days": 1, "frequency_hours": 7}).doses == 4  # 24/7 rounds up
    assert parse_order({k: v for k, v in ORDER.items() if k != "duration_days"} | {"doses": 2}).doses == 2


@pytest.mark.parametrize(("change", "field"), [
    ({"drug_code": "warfarin"}, "drug_code"),
    ({"dose": 0}, "dose"),
    ({"dose": "500"}, "dose"),
    ({"dose": True}, "dose"),
    ({"unit": "tablets"}, "unit"),
    ({"route": "oral"}, "route"),
    ({"frequency_hours": 0}, "frequency_hours"),
    ({"frequency_hours": 7.5}, "frequency_hours"),
    ({"doses": 3}, "exactly one of"),
    ({"duration_days": 0}, "duration_days"),
    ({"duration_days": 1000}, "duration_days"),
    ({"colour": "red"}, "unknown field"),
])
def test_bad_orders_name_the_field(change: dict, field: str) -> None:
    with pytest.raises(StageInputError, match=field):
        parse_order({**ORDER, **change})


def test_course_longer_than_the_limit_is_refused() -> None:
    with pytest.raises(StageInputError, match="1 to 200 doses"):
        parse_order({**ORDER, "frequency_hours": 1, "duration_days": 30})


def test_dose_times_every_eight_hours_for_three_days() -> None:
    first = datetime(2026, 11, 25, 8, tzinfo=UTC)
    times = dose_times(first, 8, 9)
    assert times[0] == first and times[-1] == first + timedelta(hours=64) and len(times) == 9
    assert {b - a for a, b in zip(times, times[1:], strict=False)} == {timedelta(hours=8)}


def test_stage_input_from_journey_context() -> None:
    ctx = JourneyContext(journey_id="journey-e1", patient_id="p1", encounter_id="e1", ward="medical",
                         attending="attending-1", care_team_id="team-a")
    inp = build_pharmacy_input(ctx, StageRequest("pharmacy", "order-1", "attending-1", ORDER))
    assert (inp.order_id, inp.patient_id, inp.ward, inp.order.doses) == ("order-1", "p1", "medical", 9)
    with pytest.raises(StageInputError, match="first_dose_delay_minutes"):
        build_pharmacy_input(ctx, StageRequest("pharmacy", "o", "a", {**ORDER, "first_dose_delay_minutes": -1}))
    with pytest.raises(StageInputError, match="60 characters"):
        build_pharmacy_input(ctx, StageRequest("pharmacy", "x" * 61, "a", ORDER))
    assert summarize_pharmacy({"order_id": "o", "status": "rejected", "reason": "free text"}) == {
        "order_id": "o", "status": "rejected", "doses_given": None, "doses_not_given": None,
        "returned_units": None, "escalations": None}


@pytest.mark.parametrize(("ttype", "payload", "override", "message"), [
    (VERIFY, {"decision": "maybe"}, False, "payload.decision"),
    (VERIFY, {"decision": "reject"}, False, "payload.reason: required"),
    (VERIFY, {"decision": "approve"}, True, "override_reason"),
    (VERIFY, {"decision": "approve", "override_reason": "  "}, True, "override_reason"),
    (VERIFY, {"decision": "approve", "extra": 1}, False, "unknown field"),
    (DOSE, {"status": "held"}, False, "payload.reason: required"),
    (DOSE, {"status": "refused", "reason": 3}, False, "payload.reason"),
    (DOSE, {}, False, "payload.status"),
    (STOCK, {"action": "cancel"}, False, "payload.reason"),
    (MISSED, {"decision": "cancel-order"}, False, "payload.reason"),
])
def test_bad_task_payloads_are_refused(ttype: str, payload: dict, override: bool, message: str) -> None:
    with pytest.raises(ApplicationError, match=message) as info:
        validate_payload(ttype, payload, override)
    assert info.value.type == "InvalidTaskPayload"


@pytest.mark.parametrize(("ttype", "payload", "override"), [
    (VERIFY, {"decision": "approve"}, False),
    (VERIFY, {"decision": "approve", "override_reason": "benefit outweighs risk; INR monitored"}, True),
    (VERIFY, {"decision": "reject", "reason": "duplicate therapy"}, True),
    (DOSE, {"status": "given"}, False),
    (DOSE, {"status": "refused", "reason": "patient declined"}, False),
    (STOCK, {"action": "retry"}, False),
    (MISSED, {"decision": "continue", "reason": "given late, documented"}, False),
])
def test_good_task_payloads_pass(ttype: str, payload: dict, override: bool) -> None:
    validate_payload(ttype, payload, override)
