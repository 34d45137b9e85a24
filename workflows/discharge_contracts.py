"""Payloads of discharge: the checklist's input, its checks, its summary and its bed hand-over."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from workflows.contracts import AuditContext
from workflows.stages import StageStatus


@dataclass
class DischargeInput:
    """The journey context (``JourneyContext`` fields), who starts the discharge, and the stages so far.

    ``medication_orders`` adds active orders the stages do not show; running pharmacy stages are
    active orders too. ``notify_journey`` signals the journey's ``discharge`` when done (for a
    discharge started outside the journey); ``start_billing`` starts ``BillingWorkflow`` as an
    abandoned child when done (for a journey that does not start billing itself).
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
