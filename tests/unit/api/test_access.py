"""The decide → record → act spine, with fakes for the policy engine and the ledger."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi import HTTPException

from api.access import authorize, authorized_read
from api.auth import Principal
from api.services import ApiServices, Subject
from ledger.model import AuditEvent


@dataclass
class FakeDecision:
    allow: bool
    reason: str
    policy_version: str = "test"


@dataclass
class FakePolicy:
    allow: bool
    inputs: list[dict[str, Any]] = field(default_factory=list)

    def decide(self, policy_input: dict[str, Any]) -> FakeDecision:
        self.inputs.append(policy_input)
        return FakeDecision(self.allow, "allowed: on care team" if self.allow else "denied: not on care team")


@dataclass
class FakeLedger:
    fail: bool = False
    events: list[AuditEvent] = field(default_factory=list)

    def append(self, event: AuditEvent) -> None:
        if self.fail:
            raise ConnectionError("ledger down")
        self.events.append(event)


class FakeDirectory:
    def cached(self, principal: Principal) -> Subject | None:
        return None

    def subject(self, principal: Principal) -> Subject:
        return Subject(principal.user_id, principal.role, ("medical",), ("team-a",))


def services(policy: FakePolicy, ledger: FakeLedger) -> ApiServices:
    s = ApiServices(sessions=None, policy=policy, ledger=ledger, verifier=None, index_key=b"k" * 32,  # type: ignore[arg-type]
                    task_queue="q")
    s.directory = FakeDirectory()  # type: ignore[assignment]
    return s


RESOURCE = {"type": "Patient", "id": "p1", "patient_id": "p1", "ward": "medical", "care_teams": ["team-a"]}
ME = Principal("attending-1", "attending_physician")


async def test_allowed_access_is_recorded_once_with_the_reason() -> None:
    policy, ledger = FakePolicy(True), FakeLedger()
    granted = await authorize(services(policy, ledger), ME, action="read", resource=RESOURCE, subtype="patient.read")
    assert granted.reason == "allowed: on care team"
    [event] = ledger.events
    assert (event.actor, event.action, event.outcome, event.decision, event.patient_id, event.purpose) == (
        "attending-1", "R", "0", "allow", "p1", "TREAT")
    assert policy.inputs[0]["subject"]["care_teams"] == ["team-a"]
    assert policy.inputs[0]["context"]["break_glass"] is None


async def test_denied_access_is_recorded_and_refused() -> None:
    policy, ledger = FakePolicy(False), FakeLedger()
    with pytest.raises(HTTPException) as err:
        await authorize(services(policy, ledger), Principal("billing-1", "billing_clerk"), action="read",
                        resource=RESOURCE, subtype="patient.read")
    assert err.value.status_code == 403 and "not on care team" in err.value.detail
    [event] = ledger.events
    assert (event.outcome, event.decision, event.purpose) == ("4", "deny", "HPAYMT")


async def test_ledger_down_fails_closed() -> None:
    with pytest.raises(HTTPException) as err:
        await authorize(services(FakePolicy(True), FakeLedger(fail=True)), ME, action="read", resource=RESOURCE,
                        subtype="patient.read")
    assert err.value.status_code == 503


class Reader:
    """A read that notes whether it ran and whether the ledger already held the entry when it finished."""

    def __init__(self, ledger: FakeLedger, fail: Exception | None = None) -> None:
        self.ledger, self.fail, self.calls = ledger, fail, 0
        self.lock = threading.Lock()

    def __call__(self) -> dict[str, str]:
        with self.lock:
            self.calls += 1
        if self.fail is not None:
            raise self.fail
        return {"given": "plaintext"}


async def test_authorized_read_returns_the_data_once_the_access_is_recorded() -> None:
    ledger = FakeLedger()
    read = Reader(ledger)
    data = await authorized_read(services(FakePolicy(True), ledger), ME, read, action="read", resource=RESOURCE,
                                 subtype="patient.read")
    assert data == {"given": "plaintext"} and read.calls == 1
    [event] = ledger.events
    assert (event.decision, event.subtype) == ("allow", "patient.read")


async def test_authorized_read_never_reads_when_denied() -> None:
    ledger = FakeLedger()
    read = Reader(ledger)
    with pytest.raises(HTTPException) as err:
        await authorized_read(services(FakePolicy(False), ledger), Principal("billing-1", "billing_clerk"), read,
                              action="read", resource=RESOURCE, subtype="patient.read")
    assert err.value.status_code == 403 and read.calls == 0
    assert [e.decision for e in ledger.events] == ["deny"]


async def test_authorized_read_discards_the_data_when_the_ledger_is_down() -> None:
    read = Reader(FakeLedger())
    with pytest.raises(HTTPException) as err:
        await authorized_read(services(FakePolicy(True), FakeLedger(fail=True)), ME, read, action="read",
                              resource=RESOURCE, subtype="patient.read")
    assert err.value.status_code == 503


async def test_authorized_read_passes_the_reads_own_error_after_recording() -> None:
    ledger = FakeLedger()
    read = Reader(ledger, fail=HTTPException(404, "gone"))
    with pytest.raises(HTTPException) as err:
        await authorized_read(services(FakePolicy(True), ledger), ME, read, action="read", resource=RESOURCE,
                              subtype="patient.read")
    assert err.value.status_code == 404 and len(ledger.events) == 1
