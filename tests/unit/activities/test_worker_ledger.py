"""Worker side effects are recorded once, even when a retry rebuilds the same event differently."""
from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from activities.audit import WorkerLedger
from ledger.base import LedgerConflict
from ledger.model import AuditEvent


class OnceLedger:
    """A stand-in for the ledger's idempotency contract: same id, other content → conflict."""

    def __init__(self) -> None:
        self.events: dict[str, AuditEvent] = {}

    def append(self, event: AuditEvent) -> AuditEvent:
        existing = self.events.get(event.event_id)
        if existing is not None and existing != event:
            raise LedgerConflict(event.event_id)
        self.events[event.event_id] = event
        return event

    def size(self) -> int:
        return len(self.events)


def event(at: datetime) -> AuditEvent:
    return AuditEvent(event_id="wf/1/patient.register", recorded=at, actor="hms-worker", role="system", action="C",
                      subtype="patient.register", outcome="0", resource_type="Patient", resource_id="p1",
                      patient_id="p1", purpose="TREAT", decision="allow", reason="journey j started by r",
                      source="worker")


def test_retry_with_a_later_time_keeps_the_first_entry() -> None:
    inner = OnceLedger()
    ledger = WorkerLedger(inner)
    first = event(datetime(2026, 11, 25, 9, tzinfo=UTC))
    ledger.append(first)
    ledger.append(dataclasses.replace(first, recorded=first.recorded + timedelta(seconds=5), action="R"))
    assert list(inner.events.values()) == [first]
    assert ledger.size() == 1  # everything else goes to the real ledger


def test_the_bare_ledger_would_refuse_the_retry() -> None:
    inner = OnceLedger()
    first = event(datetime(2026, 11, 25, 9, tzinfo=UTC))
    inner.append(first)
    with pytest.raises(LedgerConflict):
        inner.append(dataclasses.replace(first, recorded=first.recorded + timedelta(seconds=5)))
