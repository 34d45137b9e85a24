"""Contracts of the ``BreakGlassReview`` workflow (identifiers and codes only; never the stated reason)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from workflows.contracts import AuditContext

#: Review outcomes a compliance officer may record.
OUTCOMES = ("appropriate", "inappropriate")


@dataclass
class BreakGlassReviewInput:
    grant_id: str
    patient_id: str
    user_id: str
    role: str
    ward: str | None
    expires_at: datetime
    #: The review is due this long after the grant ends (expiry or revocation).
    review_due_minutes: int = 24 * 60
    #: Each escalation gives the next reviewer this long.
    escalation_due_minutes: int = 4 * 60
    #: Escalations before the review stays open without a further deadline.
    max_escalations: int = 2


@dataclass
class GrantEnd:
    audit: AuditContext
    grant_id: str
    patient_id: str
    at: datetime
    revoked_by: str | None = None


@dataclass
class ReviewRecord:
    audit: AuditContext
    grant_id: str
    patient_id: str
    status: str  # "escalated" or "reviewed"
    at: datetime
    outcome: str | None = None
    by: str | None = None
    #: The reviewer's comment: stored with the grant, never in the ledger.
    comment: str | None = None


@dataclass
class RevokeRequest:
    by: str


@dataclass
class BreakGlassReviewState:
    grant_id: str
    status: str = "active"  # active → ended → reviewed
    ended_at: datetime | None = None
    revoked_by: str | None = None
    escalations: int = 0
    outcome: str | None = None
    reviewed_by: str | None = None
    open_tasks: list[str] | None = None
