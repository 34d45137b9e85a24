"""The decide → record → act spine, with fakes for the policy engine and the ledger."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi import HTTPException

from api.access import authorize
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
