"""Contracts of the ``ErasureWorkflow`` (identifiers and codes only; no patient data)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from workflows.contracts import AuditContext

#: The grounds of an erasure request (DPDP Act 2023, s. 12: withdrawal of consent, purpose served, request).
GROUNDS = ("patient-request", "consent-withdrawn", "purpose-fulfilled")
#: What the approving compliance officer may decide.
DECISIONS = ("approve", "reject")
#: States in which the workflow has finished its work.
FINAL = ("refused", "rejected", "erased")


@dataclass
class ErasureInput:
    erasure_id: str
    patient_id: str
    requested_by: str
    requester_role: str
    grounds: str = "patient-request"
    #: The approval task is due this long after the request.
    approval_due_minutes: int = 3 * 24 * 60
    #: Each escalation gives the next approver this long.
    escalation_due_minutes: int = 24 * 60
    #: Escalations before the approval stays open without a further deadline.
    max_escalations: int = 2


@dataclass
class ErasureCheck:
    audit: AuditContext
    erasure_id: str
    patient_id: str


@dataclass
class ErasureCheckResult:
    blockers: list[str] = field(default_factory=list)


@dataclass
class ErasureRecord:
    """An outcome to record in the ledger: refused, approved, rejected or escalated."""

    audit: AuditContext
    erasure_id: str
    patient_id: str
    status: str


@dataclass
class ShredRequest:
    audit: AuditContext
    erasure_id: str
    patient_id: str
    at: datetime


@dataclass
class ShredResult:
    erased: bool
    blockers: list[str] = field(default_factory=list)


@dataclass
class ErasureState:
    erasure_id: str
    patient_id: str
    #: checking → refused | awaiting-approval → rejected | refused | erased
    status: str = "checking"
    reasons: list[str] = field(default_factory=list)
    decided_by: str | None = None
    decided_at: datetime | None = None
    #: The approver's comment, kept in the workflow only (never in the ledger).
    comment: str | None = None
    erased_at: datetime | None = None
    escalations: int = 0
    open_tasks: list[str] | None = None
