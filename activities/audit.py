"""Ledger entries for the side effects workers perform on patient data.

Identifiers and codes only; the event id is derived from the workflow and
activity ids so a retried activity appends nothing new.
"""
from __future__ import annotations

from datetime import UTC, datetime

from temporalio import activity

from ledger.base import Ledger
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


def append(ledger: Ledger, event: AuditEvent) -> None:
    ledger.append(event)
