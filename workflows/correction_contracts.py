"""Contracts of the ``CorrectionRequest`` workflow: ids and codes only (the proposed value stays in storage)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from workflows.contracts import AuditContext

#: What a registration clerk may decide.
DECISIONS = ("accepted", "rejected")


@dataclass
class CorrectionRequestInput:
    request_id: str
    patient_id: str
    #: The demographic field (a code such as ``family``); the proposed value is not here.
    field: str
    requested_by: str
    #: The registration task is due this long after the request.
    due_minutes: int = 7 * 24 * 60


@dataclass
class CorrectionDecision:
    audit: AuditContext
    request_id: str
    patient_id: str
    decision: str
    by: str
    at: datetime
    #: The clerk's reason: stored encrypted with the request, never in the ledger.
    reason: str | None = None


@dataclass
class CorrectionState:
    request_id: str
    status: str = "open"  # open → accepted | rejected
    decided_by: str | None = None
    decided_at: datetime | None = None
    open_tasks: list[str] | None = None
