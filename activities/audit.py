"""Ledger entries for the side effects workers perform on patient data.

Identifiers and codes only; the event id is derived from the workflow and
activity ids so a retried activity appends nothing new.
"""
from __future__ import annotations

from datetime import UTC, datetime

from temporalio import activity

from ledger.base import Ledger, LedgerConflict
from ledger.model import AuditEvent
from workflows.contracts import AuditContext

WORKER_ACTOR = "hms-worker"


def worker_event(
    ctx: AuditContext, *, subtype: str, action: str, resource_type: str, resource_id: str | None,
    patient_id: str | None,
) -> AuditEvent:
    info = activity.info()
    return AuditEvent(
        event_id=f"{info.workflow_id}/{info.activity_id}/{subtype}",
        recorded=datetime.now(UTC),
        actor=WORKER_ACTOR,
        role="system",
        action=action,
        subtype=subtype,
        outcome="0",
        resource_type=resource_type,
        resource_id=resource_id,
        patient_id=patient_id,
        purpose=ctx.purpose,
        decision="allow",
        reason=f"journey {ctx.journey_id} started by {ctx.requested_by}",
        source="worker",
    )


class WorkerLedger:
    """The ledger as workers see it: a side effect is recorded once, whatever the retries.

    A worker event's id names one side effect of one activity execution. A retry that
    runs after the first attempt's entry was committed (the attempt then crashed or timed
    out) builds the same id with a later time, or reads an effect it first created; the
    first entry stands and the retry's is dropped instead of failing the activity forever.
    """

    def __init__(self, inner: Ledger) -> None:
        self._inner = inner

    def append(self, event: AuditEvent) -> object:
        try:
            return self._inner.append(event)
        except LedgerConflict:
            return None

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)
