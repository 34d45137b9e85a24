"""Per-event decisions (cached, audited once per interval), wire shapes and small parsers."""
from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi import HTTPException

from activities.storage import events_repo
from api.auth import Principal
from api.streams import access
from api.streams.access import KIND_TYPES, EventGate
from api.streams.hub import StreamEvent
from api.streams.payloads import STAGE_BY_STATUS, message
from api.streams.session import Refused, _bearer, _event_id
from deploy.settings import Settings
from deploy.stream_client import stream_url

NURSE = Principal("nurse-medical-1", "nurse")


def ev(i: int, kind: str = "vitals", patient: str = "p1") -> StreamEvent:
    return StreamEvent(i, patient, "medical", kind, f"ref-{i}", datetime(2026, 11, 25, 9, 30, tzinfo=UTC))


@pytest.fixture
def decisions(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Record every authorize call; deny Observations labelled PSY, fail closed (503) for patient 'down'."""
    calls: list[dict[str, Any]] = []

    def resource(services: Any, rtype: str, patient_id: str, resource_id: str | None = None, *,
                 default_ward: str | None = None, **extra: Any) -> dict[str, Any]:
        return {"type": rtype, "id": resource_id, "patient_id": patient_id, "ward": default_ward, **extra}

    async def authorize(services: Any, principal: Principal, *, action: str, resource: dict[str, Any],
                        subtype: str) -> None:
        calls.append({"action": action, "subtype": subtype, **resource})
        if resource["patient_id"] == "down":
            raise HTTPException(503, "the audit ledger is unavailable")
        if "PSY" in resource.get("security", []):
            raise HTTPException(403, "sensitive")

    monkeypatch.setattr(access, "patient_resource", resource)
    monkeypatch.setattr(access, "authorize", authorize)
    return calls


async def test_one_decision_per_patient_and_type_per_interval(decisions: list[dict[str, Any]]) -> None:
    gate = EventGate(SimpleNamespace(), NURSE, ttl=3600)
    assert await gate.allows(ev(1), {}) and await gate.allows(ev(2), {}) and await gate.allows(ev(3, "result"), {})
    assert await gate.allows(ev(4, "task"), {"task_role": "nurse"})
    assert await gate.allows(ev(5, patient="p2"), {})
    assert [(c["type"], c["id"], c["subtype"]) for c in decisions] == [
        ("Observation", "ref-1", "stream.push.vitals"), ("Task", "ref-4", "stream.push.task"),
        ("Observation", "ref-5", "stream.push.vitals")]
    assert all(c["action"] == "read" for c in decisions)
    gate.reset()  # a re-check decides afresh
    assert await gate.allows(ev(6), {})
    assert len(decisions) == 4


async def test_labels_and_task_roles_are_decided_separately(decisions: list[dict[str, Any]]) -> None:
    gate = EventGate(SimpleNamespace(), NURSE, ttl=3600)
    assert await gate.allows(ev(1, "result"), {"security": []})
    assert not await gate.allows(ev(2, "result"), {"security": ["PSY"]})
    assert not await gate.allows(ev(3, "result"), {"security": ["PSY"]})  # the denial is cached too
    assert await gate.allows(ev(4, "task"), {"task_role": "nurse", "assigned_to": ["a", "b"]})
    assert await gate.allows(ev(5, "task"), {"task_role": "pharmacist"})
    assert [c["id"] for c in decisions] == ["ref-1", "ref-2", "ref-4", "ref-5"]
    assert decisions[2]["task_role"] == "nurse" and decisions[2]["assigned_to"] == ["a", "b"]


async def test_an_expired_decision_is_made_again(decisions: list[dict[str, Any]]) -> None:
    gate = EventGate(SimpleNamespace(), NURSE, ttl=0)
    await gate.allows(ev(1), {})
    await gate.allows(ev(2), {})
    assert len(decisions) == 2


async def test_an_unavailable_ledger_is_not_a_denial(decisions: list[dict[str, Any]]) -> None:
    with pytest.raises(HTTPException) as info:
        await EventGate(SimpleNamespace(), NURSE, ttl=60).allows(ev(1, patient="down"), {})
    assert info.value.status_code == 503


def test_every_kind_has_a_policy_type() -> None:
    from activities.storage.models_events import EVENT_KINDS

    assert set(KIND_TYPES) == set(EVENT_KINDS)
    assert STAGE_BY_STATUS["in-progress"] == "admitted" and STAGE_BY_STATUS["finished"] == "discharged"


def test_message_shape() -> None:
    assert message(ev(7, "stage"), {"stage": "admitted"}) == {
        "id": 7, "kind": "stage", "patient_id": "p1", "ward": "medical", "ref": "ref-7",
        "occurred_at": "2026-11-25T09:30:00Z", "data": {"stage": "admitted"}}


@pytest.mark.parametrize(("header", "token"), [
    ("Bearer abc", "abc"), ("bearer  abc ", "abc"), ("Basic abc", None), ("Bearer ", None), (None, None)])
def test_bearer_header(header: str | None, token: str | None) -> None:
    assert _bearer(header) == token


@pytest.mark.parametrize(("value", "parsed"), [(None, None), ("", None), ("0", 0), ("42", 42), (17, 17)])
def test_event_id_accepts_non_negative_integers(value: Any, parsed: int | None) -> None:
    assert _event_id(value) == parsed


@pytest.mark.parametrize("value", ["-1", "x", "1.5", True, [], {}])
def test_event_id_refuses_anything_else(value: Any) -> None:
    with pytest.raises(Refused) as info:
        _event_id(value)
    assert info.value.code == 4400


def test_stream_url_is_wss_on_the_api_port() -> None:
    settings = Settings(api_port=9443)
    assert stream_url(settings, "/ws/wards/icu") == "wss://127.0.0.1:9443/ws/wards/icu"
    assert stream_url(settings, "/ws/patients/p1", 12) == "wss://127.0.0.1:9443/ws/patients/p1?last_event_id=12"


def test_repo_refuses_unknown_kinds_and_ambiguous_filters() -> None:
    with pytest.raises(ValueError):
        events_repo.emit(SimpleNamespace(), patient_id="p1", kind="note", ref="n1")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        events_repo.since(SimpleNamespace(), 0)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        events_repo.since(SimpleNamespace(), 0, patient_id="p1", ward="medical")  # type: ignore[arg-type]


def test_app_registers_both_stream_routes() -> None:
    from api.app import create_app

    app = create_app(SimpleNamespace(codec_origins=(), temporal=None))  # type: ignore[arg-type]
    assert app.url_path_for("patient_stream", patient_id="p1") == "/ws/patients/p1"
    assert app.url_path_for("ward_stream", ward="icu") == "/ws/wards/icu"
