"""The versionable payloads that cross workflow, activity and update boundaries.

One dataclass in, one out. New fields get defaults so histories of running
journeys keep replaying.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from workflows.stages import StageStatus


@dataclass
class PatientDemographics:
    identifier_system: str
    identifier_value: str
    given: str
    family: str
    birth_date: date
    gender: str


@dataclass
class JourneyInput:
    journey_id: str
    encounter_id: str
    patient_id: str
    patient: PatientDemographics
    ward: str
    reason: str
    requested_by: str
    consent: bool = True
    attending: str | None = None
    bed_wait_deadline_seconds: int = 1800
    bed_retry_seconds: int = 60
    #: Continue as new once the history has this many events (None: when the server suggests it).
    continue_as_new_after_events: int | None = None
    #: The state a continued-as-new run carries on with (admission is not run again).
    resume: JourneyState | None = None
    #: ``host:port`` of each HL7 v2 receiver told of this stay (``HMS_HL7_DESTINATIONS``); empty: none.
    hl7_destinations: list[str] = field(default_factory=list)


@dataclass
class AdmissionInput:
    journey_id: str
    encounter_id: str
    patient_id: str
    patient: PatientDemographics
    ward: str
    reason: str
    requested_by: str
    consent: bool = True
    attending: str | None = None
    bed_wait_deadline_seconds: int = 1800
    bed_retry_seconds: int = 60


@dataclass
class AdmissionResult:
    patient_id: str
    encounter_id: str
    ward: str
    bed_id: str
    attending: str
    care_team_id: str
    admitted_at: datetime


@dataclass
class ResultNotice:
    """A result posted for the stay (FHIR Observation create, HL7 ORU^R01): ids and codes only."""

    observation_id: str
    code: str
    status: str = "final"
    #: HL7 table 0078 / FHIR ObservationInterpretation code (``HH``, ``LL``, ``AA`` are critical).
    interpretation: str | None = None
    #: ``fhir`` or ``hl7``.
    source: str = "fhir"
    received_at: datetime | None = None


@dataclass
class JourneyState:
    """What ``GET /api/v1/journeys/{id}`` shows of a journey (a workflow query)."""

    journey_id: str
    patient_id: str
    encounter_id: str
    ward: str
    stage: str
    status: str
    bed_id: str | None = None
    attending: str | None = None
    failure: str | None = None
    care_team_id: str | None = None
    stages: list[StageStatus] = field(default_factory=list)
    #: The discharge checklist child (kind ``discharge``), once the journey started one.
    discharge: StageStatus | None = None
    #: ``BillingWorkflow`` started when the checklist completed (it outlives the journey).
    billing_workflow_id: str | None = None
    #: How many times this journey continued as new (a long stay).
    continued: int = 0
    #: Results that reached the journey (ids and codes; values stay in the encrypted store), newest last.
    results: list[ResultNotice] = field(default_factory=list)
    #: Stage ids of orders cancelled by their placer (``cancel_order``), newest last: carried across
    #: continue-as-new, so a late or resent order for one of them never starts it.
    cancelled_orders: list[str] = field(default_factory=list)


@dataclass
class DischargeRequest:
    requested_by: str
    reason: str = "discharged"


# --- activities -----------------------------------------------------------------------------------


@dataclass
class AuditContext:
    """Who a worker acts for, carried into the ledger entry of each side effect."""

    journey_id: str
    requested_by: str
    purpose: str = "TREAT"


@dataclass
class RegisterPatientInput:
    audit: AuditContext
    patient_id: str
    patient: PatientDemographics


@dataclass
class RegisterPatientResult:
    patient_id: str
    created: bool


@dataclass
class ConsentInput:
    audit: AuditContext
    consent_id: str
    patient_id: str
    purpose: str
    granted: bool


@dataclass
class EncounterInput:
    audit: AuditContext
    encounter_id: str
    patient_id: str
    ward: str
    reason: str


@dataclass
class CareTeamInput:
    audit: AuditContext
    encounter_id: str
    patient_id: str
    ward: str
    attending: str | None = None


@dataclass
class CareTeamResult:
    attending: str
    care_team_id: str


@dataclass
class BedRequest:
    audit: AuditContext
    encounter_id: str
    patient_id: str
    ward: str
    bed_id: str | None = None


@dataclass
class BedResult:
    bed_id: str | None
    reason: str = ""


@dataclass
class EncounterStatusInput:
    audit: AuditContext
    encounter_id: str
    patient_id: str
    status: str
    at: datetime


@dataclass
class TaskRecord:
    """A human task as the inbox shows it; ``details`` carries codes, never clinical text."""

    id: str
    type: str
    role: str
    patient_id: str
    journey_id: str
    workflow_id: str
    created_at: datetime
    ward: str | None = None
    encounter_id: str | None = None
    due: datetime | None = None
    status: str = "open"
    details: dict[str, Any] = field(default_factory=dict)
    completed_at: datetime | None = None
    completed_by: str | None = None


@dataclass
class TaskCompletion:
    """The body of the ``complete_task`` update: who completes which task with what."""

    task_id: str
    actor: str
    role: str
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass
class TaskCompletionResult:
    task_id: str
    status: str
    result: dict[str, Any] = field(default_factory=dict)
