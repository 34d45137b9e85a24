"""Payloads of the imaging stage (ServiceRequest → ImagingStudy → AI pre-screen → DiagnosticReport).

Kept apart from ``workflows.imaging`` so the activities can import them without importing the
workflow. Codes and identifiers only cross these boundaries; DICOM bytes stay in the database
(``hms.imaging_blobs``, sealed with the patient's key) and only the blob's keyed id travels through
workflow history (in ``StudyAttachment.sha256``, the field's name from before the files were sealed).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from workflows.contracts import AuditContext

#: DICOM modality codes (PS3.3 C.7.3.1.1.1) an order may ask for.
MODALITIES = ("CR", "DX", "CT", "MR", "US", "MG", "NM", "PT", "XA", "RF")
PRIORITIES = ("routine", "urgent")
#: A code (SNOMED CT, RadLex, ICD-10, or a local code), never free text.
CODE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:|-]{0,63}$")

FLAGGED_OR_URGENT_SLA = timedelta(minutes=30)
ROUTINE_SLA = timedelta(hours=24)
REPORT_TASK = "imaging-report"


def report_sla(priority: str, ai_flagged: bool | None) -> timedelta:
    """Why two SLAs: an AI-flagged or urgent study must be read within 30 min, a routine one within 24 h."""
    return FLAGGED_OR_URGENT_SLA if priority == "urgent" or bool(ai_flagged) else ROUTINE_SLA


def report_task_id(order_id: str) -> str:
    return f"{REPORT_TASK}-{order_id}"


@dataclass
class ImagingInput:
    journey_id: str
    encounter_id: str
    patient_id: str
    order_id: str
    requested_by: str
    modality: str
    body_site: str
    priority: str
    reason_code: str
    ward: str | None = None
    care_team_id: str | None = None
    #: A named reader; None lets the department pick the least loaded radiologist.
    radiologist: str | None = None
    urgent_sla_seconds: int = int(FLAGGED_OR_URGENT_SLA.total_seconds())
    routine_sla_seconds: int = int(ROUTINE_SLA.total_seconds())
    #: Task queue of the inference workers (scale-out); None runs inference on the stage's own queue.
    inference_task_queue: str | None = None


@dataclass
class OrderInput:
    audit: AuditContext
    order_id: str
    patient_id: str
    encounter_id: str
    workflow_id: str
    modality: str
    body_site: str
    priority: str
    reason_code: str
    radiologist: str | None = None


@dataclass
class OrderResult:
    order_id: str
    assigned_to: str


@dataclass
class StudyAttachment:
    """The body of the ``attach_study`` update: a staged upload (by hash) or an external reference."""

    actor: str
    sha256: str | None = None
    size_bytes: int = 0
    reference: str | None = None
    modality: str | None = None


@dataclass
class StudyInput:
    audit: AuditContext
    study_id: str
    order_id: str
    patient_id: str
    sha256: str | None = None
    size_bytes: int = 0
    reference: str | None = None
    modality: str | None = None


@dataclass
class StudyAttached:
    order_id: str
    study_id: str
    status: str = "received"


@dataclass
class PrescreenInput:
    audit: AuditContext
    study_id: str
    patient_id: str


@dataclass
class PrescreenResult:
    """AI pre-screen of one study: decision support, never a diagnosis.

    ``status`` is ``scored``, ``not-an-image`` (the file cannot be scored), or ``unavailable``
    (no pixels, e.g. an external reference, or the model is missing)."""

    study_id: str
    status: str
    anomaly_score: float | None = None
    flagged: bool | None = None
    threshold: float | None = None
    model_version: str | None = None
    note: str = "decision support, not diagnosis"


@dataclass
class EscalationInput:
    audit: AuditContext
    order_id: str
    patient_id: str
    current: str
    breached_at: datetime


@dataclass
class EscalationResult:
    assigned_to: str
    breaches: int


@dataclass
class ReportInput:
    audit: AuditContext
    report_id: str
    order_id: str
    study_id: str
    patient_id: str
    findings_code: str
    impression: str
    conclusion: str
    abnormal: bool
    issued_by: str
    issued_at: datetime
    ai_flagged: bool | None = None


@dataclass
class OrderStatusInput:
    audit: AuditContext
    order_id: str
    patient_id: str
    status: str


@dataclass
class ImagingState:
    """What the ``state`` query shows: codes and ids, no clinical text."""

    order_id: str
    status: str = "ordered"
    assigned_to: str | None = None
    study_id: str | None = None
    prescreen: PrescreenResult | None = None
    report_task_id: str | None = None
    due: datetime | None = None
    sla_breaches: int = 0
    escalated_to: list[str] = field(default_factory=list)
    report_id: str | None = None


@dataclass
class ImagingResult:
    order_id: str
    status: str
    study_id: str | None = None
    report_id: str | None = None
    findings_code: str | None = None
    abnormal: bool | None = None
    ai_flagged: bool | None = None
    ai_score: float | None = None
    model_version: str | None = None
    reported_by: str | None = None
    sla_breaches: int = 0
