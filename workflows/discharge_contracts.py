"""Payloads of discharge: the checklist's input, its checks, its summary and its bed hand-over."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from workflows.contracts import AuditContext, JourneyState
from workflows.stages import StageStatus


@dataclass
class DischargeInput:
    """The journey context (``JourneyContext`` fields), who starts the discharge, and the stages so far.

    ``medication_orders`` adds active orders the stages do not show; running pharmacy stages are
    active orders too. The journey starts discharge as its child (``start_discharge``) and
    leaves both flags off: it ends the stay and starts billing itself when the child completes.
    They remain for discharges started outside a journey (the route before the journey owned
    discharge, and their histories): ``notify_journey`` signals the journey's ``discharge`` when
    done; ``start_billing`` starts ``BillingWorkflow`` as an abandoned child when done.
    """

    journey_id: str
    patient_id: str
    encounter_id: str
    ward: str
    requested_by: str
    attending: str | None = None
    care_team_id: str | None = None
    bed_id: str | None = None
    stages: list[StageStatus] = field(default_factory=list)
    medication_orders: list[str] = field(default_factory=list)
    notify_journey: bool = False
    start_billing: bool = False
    task_due_minutes: int = 120


@dataclass
class DischargePlanRequest:
    """The body of the journey's ``start_discharge`` update."""

    requested_by: str
    #: Active medication orders to reconcile beyond the journey's running pharmacy stages.
    medication_orders: list[str] = field(default_factory=list)


@dataclass
class DischargePlanStatus:
    """What ``start_discharge`` answers: the checklist child and whether this call started it."""

    workflow_id: str
    #: ``started`` (this call started the checklist) or ``refreshed`` (it ran; its stages were re-sent).
    status: str
    discharge: StageStatus | None = None


def discharge_workflow_id(encounter_id: str) -> str:
    return f"discharge-{encounter_id}"


def discharge_input_for(state: JourneyState, request: DischargePlanRequest) -> DischargeInput:
    """The checklist's input from the journey as it is now (its stages so far); the journey ends the stay."""
    return DischargeInput(
        journey_id=state.journey_id, patient_id=state.patient_id, encounter_id=state.encounter_id, ward=state.ward,
        requested_by=request.requested_by, attending=state.attending, care_team_id=state.care_team_id,
        bed_id=state.bed_id, stages=list(state.stages), medication_orders=list(request.medication_orders))


@dataclass
class WaitingAdmissionsInput:
    """Which ward just freed a bed, and the stay that freed it (never a waiting one itself)."""

    ward: str
    freed_by_encounter_id: str | None = None
    limit: int = 25


@dataclass
class WaitingAdmissionsResult:
    #: Encounters planned on the ward that hold no bed yet, oldest first (ids only).
    encounter_ids: list[str] = field(default_factory=list)


@dataclass
class StagesUpdate:
    """The journey's stage list as it is now (sent whenever a stage ends or a result is reported)."""

    stages: list[StageStatus] = field(default_factory=list)


@dataclass
class PendingResultsInput:
    stages: list[StageStatus] = field(default_factory=list)


@dataclass
class PendingResultsResult:
    #: One entry per blocking stage: {"stage_id", "kind", "reason"} (codes only).
    blockers: list[dict[str, str]] = field(default_factory=list)


@dataclass
class SummaryInput:
    audit: AuditContext
    composition_id: str
    journey_id: str
    encounter_id: str
    patient_id: str
    ward: str
    attending: str | None
    at: datetime
    stages: list[StageStatus] = field(default_factory=list)
    medications: dict[str, str] = field(default_factory=dict)
    follow_up_date: date | None = None
    follow_up_clinic: str | None = None


@dataclass
class SummaryResult:
    composition_id: str
    created: bool


@dataclass
class BedHandoverInput:
    audit: AuditContext
    encounter_id: str
    patient_id: str
    at: datetime
    bed_id: str | None = None
    completed_by: str | None = None


@dataclass
class BedHandoverResult:
    bed_id: str | None
    status: str


@dataclass
class DischargeProgress:
    """The ``progress`` query: where the checklist stands (codes and ids only)."""

    journey_id: str
    step: str
    blockers: list[dict[str, str]] = field(default_factory=list)
    open_tasks: list[str] = field(default_factory=list)
    composition_id: str | None = None
    bed_id: str | None = None


@dataclass
class DischargeResult:
    journey_id: str
    encounter_id: str
    composition_id: str
    bed_id: str | None
    medications: dict[str, str] = field(default_factory=dict)
    follow_up: dict[str, Any] = field(default_factory=dict)
    finished_at: datetime | None = None
