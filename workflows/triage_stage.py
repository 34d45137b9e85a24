"""The ``triage`` journey stage: an admitted patient is (re-)triaged as a TriageWorkflow child.

Payload (all optional): ``{"age": years, "priority": "routine" | "urgent"}``. The child's id
is ``triage-<stage id>``; the task goes to the ED triage nurses (ward ``emergency``) and a
rapid response to the stay's attending and care team.
"""
from __future__ import annotations

from dataclasses import asdict, is_dataclass
from typing import Any

from workflows.stages import JourneyContext, StageInputError, StageRequest, StageSpec
from workflows.triage_contracts import TriageWorkflowInput

_KEYS = {"age", "priority"}


def build_input(ctx: JourneyContext, request: StageRequest) -> TriageWorkflowInput:
    """Pure: the child's input from the stay and the request (``StageInputError`` on a bad payload)."""
    payload = request.payload
    extra = sorted(set(payload) - _KEYS)
    if extra:
        raise StageInputError(f"payload: unknown field(s) {', '.join(extra)} (age, priority)")
    age = payload.get("age")
    if age is not None and (isinstance(age, bool) or not isinstance(age, int) or not 0 <= age <= 120):
        raise StageInputError("payload.age: whole years from 0 to 120")
    priority = payload.get("priority", "routine")
    if priority not in ("routine", "urgent"):
        raise StageInputError("payload.priority: routine or urgent")
    return TriageWorkflowInput(triage_id=request.stage_id, patient_id=ctx.patient_id,
                               requested_by=request.requested_by, journey_id=ctx.journey_id,
                               encounter_id=ctx.encounter_id, age=age, attending=ctx.attending,
                               care_team_id=ctx.care_team_id, priority=priority)


def summarize(result: Any) -> dict[str, Any]:
    """Codes for the journey state: final acuity, NEWS2 band, whether a physician saw the patient."""
    data = asdict(result) if is_dataclass(result) else dict(result or {})
    return {"esi": data.get("esi"), "news2": data.get("news2"), "news2_band": data.get("news2_band"),
            "assessments": len(data.get("assessments") or []), "physician_seen": bool(data.get("physician_seen_by")),
            "status": data.get("status")}


TRIAGE_STAGE = StageSpec(workflow_type="TriageWorkflow", build_input=build_input, summarize=summarize)
