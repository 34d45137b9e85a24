"""Payloads of the triage and intake workflows, their updates and their activities.

One dataclass per boundary; new fields get defaults so running triages keep replaying.
Vitals and complaints travel only inside workflow payloads (encrypted by the codec) and
the database, never in task details, search attributes or the ledger.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from workflows.contracts import AuditContext, PatientDemographics, TaskRecord

# --- triage ---------------------------------------------------------------------------------------


@dataclass
class TriageAssessmentSummary:
    """One confirmed assessment (initial or re-assessment): scores and codes, no vitals."""

    sequence: int
    kind: str
    news2: int
    news2_band: str
    esi_suggested: int
    esi_final: int
    assessed_by: str
    assessed_at: datetime
    red_flags: list[str] = field(default_factory=list)
    overridden: bool = False


@dataclass
class TriageCarryOver:
    """What a long-running triage hands to its next run (continue-as-new)."""

    assessments: list[TriageAssessmentSummary]
    tasks: list[TaskRecord]
    complaint: str
    next_reassessment_at: datetime | None
    rapid_response: str = "none"
    rapid_deadline: datetime | None = None
    rapid_level: int = 0


@dataclass
class TriageWorkflowInput:
    triage_id: str
    patient_id: str
    requested_by: str
    #: The journey the triage belongs to; for an ED arrival before admission, the triage's own workflow id.
    journey_id: str = ""
    encounter_id: str | None = None
    ward: str = "emergency"
    #: Demographics of an ED arrival to register first (standalone triage of a new patient).
    patient: PatientDemographics | None = None
    age: int | None = None
    attending: str | None = None
    care_team_id: str | None = None
    intake_id: str | None = None
    intake_esi: int | None = None
    intake_red_flags: list[str] = field(default_factory=list)
    complaint_category: str | None = None
    priority: str = "routine"
    rapid_response_ack_seconds: int = 300
    carry: TriageCarryOver | None = None


@dataclass
class TriageState:
    """The triage as ``GET /api/v1/triage/{id}`` and the journey see it (codes and scores only)."""

    triage_id: str
    patient_id: str
    journey_id: str
    status: str = "awaiting-triage"
    priority: str = "routine"
    encounter_id: str | None = None
    esi: int | None = None
    news2: int | None = None
    news2_band: str | None = None
    reassessment_interval_seconds: int | None = None
    next_reassessment_at: datetime | None = None
    rapid_response: str = "none"
    physician_seen_by: str | None = None
    physician_seen_at: datetime | None = None
    intake_id: str | None = None
    assessments: list[TriageAssessmentSummary] = field(default_factory=list)
    open_tasks: list[str] = field(default_factory=list)


@dataclass
class PhysicianSeen:
    """The body of the ``physician_seen`` update: the attending has seen the patient."""

    actor: str
    role: str


@dataclass
class LinkAdmission:
    """The body of the ``link_admission`` update: the ED arrival was admitted under this journey."""

    journey_id: str
    encounter_id: str
    actor: str


@dataclass
class AssessInput:
    #: The ``ml.triage.schema.TriageInput`` fields, already validated by the update validator.
    vitals: dict[str, Any]


@dataclass
class AssessResult:
    news2: int
    news2_band: str
    esi_suggested: int
    red_flags: list[str]
    model_version: str
    parameter_scores: dict[str, int] = field(default_factory=dict)


@dataclass
class RecordAssessmentInput:
    audit: AuditContext
    assessment_id: str
    triage_id: str
    patient_id: str
    sequence: int
    kind: str
    vitals: dict[str, Any]
    news2: int
    news2_band: str
    esi_suggested: int
    esi_final: int
    red_flags: list[str]
    model_version: str
    assessed_by: str
    assessed_at: datetime
    encounter_id: str | None = None
    override_reason: str | None = None


@dataclass
class LinkEncounterInput:
    audit: AuditContext
    triage_id: str
    patient_id: str
    encounter_id: str


# --- intake ---------------------------------------------------------------------------------------


@dataclass
class IntakeInput:
    intake_id: str
    patient_id: str
    requested_by: str
    complaint: str
    age: int | None = None
    patient: PatientDemographics | None = None
    ward: str = "emergency"
    #: Start the triage (pre-filled from the draft) when the intake ends.
    start_triage: bool = True
    idle_timeout_seconds: int = 1800


@dataclass
class IntakeQuestion:
    id: str
    text: str
    kind: str
    options: list[str] = field(default_factory=list)
    minimum: float | None = None
    maximum: float | None = None


@dataclass
class IntakeAnswer:
    """The body of the ``answer`` update; ``question_id`` (optional) guards against a stale screen."""

    value: Any
    actor: str
    question_id: str | None = None


@dataclass
class IntakeStep:
    """What an answer returns: the next question, or how the intake ended."""

    intake_id: str
    status: str
    question: IntakeQuestion | None = None
    red_flags: list[str] = field(default_factory=list)
    esi_suggested: int | None = None
    triage_id: str | None = None
    answered: int = 0


@dataclass
class IntakeState:
    intake_id: str
    patient_id: str
    status: str
    category: str
    step: IntakeStep
    answers: dict[str, Any] = field(default_factory=dict)


@dataclass
class IntakeScreenInput:
    complaint: str
    category: str
    answers: dict[str, Any] = field(default_factory=dict)


@dataclass
class IntakeScreenResult:
    red_flags: list[str]
    esi_suggested: int


@dataclass
class SaveDraftInput:
    audit: AuditContext
    intake_id: str
    patient_id: str
    status: str
    complaint: str
    category: str
    answers: dict[str, Any]
    red_flags: list[str]
    esi_suggested: int | None
    updated_at: datetime
    triage_id: str | None = None
