"""Streams end to end: a real ``websockets`` client over wss against the real app on uvicorn and PostgreSQL."""
from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Any

import pytest
import sqlalchemy as sa
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from activities.storage import events_repo, observations_repo
from deploy.stream_client import StreamRefused, stream, stream_url, subscribe, tls_context
from tests.integration.streams.conftest import TEST_CONFIG, Stack, complete_task, open_task, record_vitals

pytestmark = pytest.mark.integration
Admit = Callable[..., tuple[str, str]]
#: Generous bounds only to keep a broken build from hanging; nothing asserts on timing.
WAIT = 15.0


async def _open(stack: Stack, path: str, token: str | None, last_event_id: int | None = None,
                **query: str) -> ClientConnection:
    url = stream_url(stack.settings, path, last_event_id)
    if query:
        url += ("&" if "?" in url else "?") + "&".join(f"{k}={v}" for k, v in query.items())
    headers = {"Authorization": f"Bearer {token}"} if token else None
    return await connect(url, ssl=tls_context(stack.settings), proxy=None, additional_headers=headers)


async def _next(ws: ClientConnection) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), WAIT))


async def _until_subscribed(ws: ClientConnection) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The catch-up events the server sends first, then its ``subscribed`` message."""
    events = []
    while True:
        msg = await _next(ws)
        if msg.get("type") == "subscribed":
            return events, msg
        events.append(msg)


async def _events(ws: ClientConnection, n: int, kind: str | None = None) -> list[dict[str, Any]]:
    """The next ``n`` events (of ``kind``), caught up or live alike (the ``subscribed`` message is skipped).

    A stream starts at the newest *settled* event, so the admission's own stage events, committed
    just before subscribing, may still arrive live: tests that look for something else skip them.
    """
    events: list[dict[str, Any]] = []
    while len(events) < n:
        msg = await _next(ws)
        if msg.get("type") != "subscribed" and (kind is None or msg["kind"] == kind):
            events.append(msg)
    return events


async def _first(ws: ClientConnection, match: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """The first message ``match`` accepts (those before it are skipped)."""
    while True:
        msg = await _next(ws)
        if match(msg):
            return msg


def _marker(stack: Stack, patient: str) -> str:
    """An event written now: the next one a stream of the patient must show after those before it."""
    ref = f"marker-{uuid.uuid4().hex[:8]}"
    with stack.services.sessions() as s:
        events_repo.emit(s, patient_id=patient, kind="result", ref=ref, ward="medical")
        s.commit()
    return ref


async def _closed_with(ws: ClientConnection) -> tuple[int, str]:
    with pytest.raises(ConnectionClosed) as info:
        while True:
            await asyncio.wait_for(ws.recv(), WAIT)
    assert info.value.rcvd is not None
    return info.value.rcvd.code, info.value.rcvd.reason


async def test_patient_stream_pushes_vitals_over_wss(stack: Stack, admit: Admit) -> None:
    patient, encounter = admit()
    ready = asyncio.Event()
    events: AsyncIterator[dict[str, Any]] = stream(stack.settings, f"/ws/patients/{patient}",
                                                   stack.token("nurse-medical-1", "nurse"), ready=ready)

    async def first_vitals() -> dict[str, Any]:
        async for e in events:  # the admission's stage events may come first
            if e["kind"] == "vitals":
                return e
        raise AssertionError("the stream ended")

    first = asyncio.ensure_future(first_vitals())
    await asyncio.wait_for(ready.wait(), WAIT)
    vitals_id = record_vitals(stack, patient, encounter, heart_rate=131, spo2=91)
    event = await asyncio.wait_for(first, WAIT)
    await events.aclose()  # type: ignore[attr-defined]

    assert event["kind"] == "vitals" and event["ref"] == vitals_id
    assert event["patient_id"] == patient and event["ward"] == "medical"
    assert isinstance(event["id"], int) and event["occurred_at"]
    data = event["data"]
    assert data["resourceType"] == "Observation" and data["id"] == f"vs-{vitals_id}"
    values = {c["code"]["coding"][0]["code"]: c.get("valueQuantity", {}).get("value") for c in data["component"]}
    assert 131 in values.values() and 91 in values.values()


async def test_ward_stream_pushes_task_created_and_completed(stack: Stack, admit: Admit) -> None:
    patient, encounter = admit()
    ws = await _open(stack, "/ws/wards/medical", stack.token("nurse-medical-1", "nurse"))
    await _until_subscribed(ws)
    task_id = open_task(stack, patient, encounter)
    complete_task(stack, task_id)
    seen = []
    while len(seen) < 2:
        msg = await _next(ws)
        if msg["ref"] == task_id:
            seen.append(msg)
    await ws.close()
    assert [m["kind"] for m in seen] == ["task", "task"]
    assert [m["data"]["status"] for m in seen] in (["open", "completed"], ["completed", "completed"])
    assert seen[0]["id"] < seen[1]["id"] and seen[1]["data"]["completed_by"] == "nurse-medical-1"
    assert all(m["ward"] == "medical" and m["patient_id"] == patient for m in seen)


async def test_resume_from_last_event_id_gets_exactly_the_missed_events(stack: Stack, admit: Admit) -> None:
    patient, encounter = admit()
    token = stack.token("attending-1", "attending_physician")
    ws = await _open(stack, f"/ws/patients/{patient}", token, last_event_id=0)
    admission = await _events(ws, 2)  # the stay's two stage changes: the client's cursor is the last one
    await ws.close()
    start = admission[-1]["id"]

    vitals_id = record_vitals(stack, patient, encounter)
    task_id = open_task(stack, patient, encounter)
    with stack.services.sessions() as s:  # discharge: the encounter's stage changes
        s.execute(sa.text("UPDATE hms.encounters SET status = 'finished' WHERE id = :e"), {"e": encounter})
        s.commit()

    ws = await _open(stack, f"/ws/patients/{patient}", token, last_event_id=start)
    missed = await _events(ws, 3)
    marker = _marker(stack, patient)
    after = await _events(ws, 1)
    await ws.close()
    assert [(m["kind"], m["ref"]) for m in missed] == [("vitals", vitals_id), ("task", task_id), ("stage", encounter)]
    assert missed[2]["data"]["stage"] == "discharged"
    assert after[0]["ref"] == marker  # nothing else, nothing twice

    # Resuming from the middle gives only what came after; from the end, nothing but what is new.
    ws = await _open(stack, f"/ws/patients/{patient}", token, last_event_id=missed[1]["id"])
    rest = await _events(ws, 2)
    await ws.close()
    assert [m["id"] for m in rest] == [missed[2]["id"], after[0]["id"]]
    ws = await _open(stack, f"/ws/patients/{patient}", token, last_event_id=after[0]["id"])
    await _until_subscribed(ws)
    newer = _marker(stack, patient)
    assert [m["ref"] for m in await _events(ws, 1)] == [newer]
    await ws.close()


async def test_token_as_first_message(stack: Stack, admit: Admit) -> None:
    patient, encounter = admit()
    vitals_id = record_vitals(stack, patient, encounter)
    ws = await _open(stack, f"/ws/patients/{patient}", None)
    await ws.send(json.dumps({"access_token": stack.token("nurse-medical-1", "nurse"), "last_event_id": 0}))
    events = await _events(ws, 3)  # the stay's two stage changes, then the vitals
    await ws.close()
    assert [(m["kind"], m["ref"]) for m in events] == [("stage", encounter), ("stage", encounter),
                                                       ("vitals", vitals_id)]


@pytest.mark.parametrize(("case", "code"), [
    ("no_token", 4401), ("no_token_in_first_message", 4401), ("bad_token", 4401), ("registration_clerk", 4403),
    ("other_ward_nurse", 4403), ("unknown_patient", 4404), ("unknown_ward", 4404), ("bad_last_event_id", 4400),
])
async def test_refusals_close_with_code_and_reason(stack: Stack, admit: Admit, case: str, code: int) -> None:
    patient, _ = admit()
    nurse = stack.token("nurse-medical-1", "nurse")
    path, token, query = f"/ws/patients/{patient}", nurse, {}
    if case == "no_token":
        token = None
    elif case == "bad_token":
        token = nurse[:-4] + "AAAA"
    elif case == "registration_clerk":
        token = stack.token("registration-1", "registration_clerk")
    elif case == "other_ward_nurse":
        token = stack.token("nurse-psychiatry-1", "nurse")
    elif case == "unknown_patient":
        path = "/ws/patients/00000000-0000-0000-0000-000000000000"
    elif case == "unknown_ward":
        path = "/ws/wards/no-such-ward"
    elif case == "bad_last_event_id":
        query = {"last_event_id": "minus-one"}
    ws = await _open(stack, path, token, **query)
    if case == "no_token_in_first_message":
        await ws.close()
        ws = await _open(stack, path, None)
        await ws.send(json.dumps({"last_event_id": 0}))
    got, reason = await _closed_with(ws)
    assert got == code and reason


async def test_stream_client_raises_on_refusal(stack: Stack, admit: Admit) -> None:
    patient, _ = admit()
    with pytest.raises(StreamRefused) as info:
        async for _ in stream(stack.settings, f"/ws/patients/{patient}",
                              stack.token("billing-1", "billing_clerk")):
            pass
    assert info.value.code == 4403


async def test_subscription_and_pushes_are_in_the_ledger(stack: Stack, admit: Admit) -> None:
    patient, encounter = admit()
    ws = await _open(stack, f"/ws/patients/{patient}", stack.token("attending-1", "attending_physician"))
    await _until_subscribed(ws)
    vitals_id = record_vitals(stack, patient, encounter)
    [msg] = await _events(ws, 1, "vitals")
    await ws.close()
    assert msg["ref"] == vitals_id
    denied = await _open(stack, f"/ws/patients/{patient}", stack.token("attending-2", "attending_physician"))
    assert (await _closed_with(denied))[0] == 4403

    entries = stack.services.ledger.query(patient_id=patient)
    by = {(e.event.actor, e.event.subtype, e.event.decision) for e in entries}
    assert ("attending-1", "stream.subscribe.patient", "allow") in by
    assert ("attending-1", "stream.push.vitals", "allow") in by
    assert ("attending-2", "stream.subscribe.patient", "deny") in by
    push = next(e.event for e in entries if e.event.subtype == "stream.push.vitals")
    assert push.resource_type == "Observation" and push.resource_id == vitals_id and push.action == "R"


async def test_revoked_care_team_membership_ends_the_stream(stack: Stack, admit: Admit) -> None:
    patient, encounter = admit(attending="attending-1")
    ws = await _open(stack, f"/ws/patients/{patient}", stack.token("attending-1", "attending_physician"))
    await _until_subscribed(ws)
    with stack.services.sessions() as s:  # the patient moves to care team B; attending-1 is no longer on it
        s.execute(sa.text("UPDATE hms.encounters SET care_team_id = 'team-b', attending_id = 'attending-2' "
                          "WHERE id = :e"), {"e": encounter})
        s.commit()
    code, reason = await _closed_with(ws)
    assert code == 4403 and "care team" in reason


async def test_ward_stream_shows_an_attending_only_their_teams_patients(stack: Stack, admit: Admit) -> None:
    mine, mine_enc = admit(ward="icu", attending="attending-2")
    theirs, theirs_enc = admit(ward="icu", attending="attending-1")
    ws = await _open(stack, "/ws/wards/icu", stack.token("attending-2", "attending_physician"))
    await _until_subscribed(ws)
    hidden = record_vitals(stack, theirs, theirs_enc)
    shown = record_vitals(stack, mine, mine_enc)
    [msg] = await _events(ws, 1, "vitals")
    await ws.close()
    assert msg["ref"] == shown and msg["patient_id"] == mine
    assert hidden != shown


async def test_slow_client_is_dropped_without_holding_up_others_and_resumes(stack: Stack, admit: Admit) -> None:
    patient, encounter = admit()
    token = stack.token("nurse-medical-1", "nurse")
    steady = await _open(stack, f"/ws/patients/{patient}", token)
    await _until_subscribed(steady)
    stack.app.state.stream_config = replace(TEST_CONFIG, queue_size=1)  # type: ignore[attr-defined]
    try:
        slow = await _open(stack, f"/ws/patients/{patient}", token)
        await _until_subscribed(slow)
    finally:
        stack.app.state.stream_config = TEST_CONFIG  # type: ignore[attr-defined]
    with stack.services.sessions() as s:  # a burst: 20 events committed (and notified) at once
        for i in range(20):
            s.execute(sa.text("SELECT hms.emit_event(:p, 'medical', 'task', :r)"), {"p": patient, "r": f"burst-{i}"})
        s.commit()

    code, reason = await _closed_with(slow)
    assert code == 4429 and "last_event_id=" in reason
    got = await _events(steady, 20, "task")
    await steady.close()
    assert [m["ref"] for m in got] == [f"burst-{i}" for i in range(20)]

    # The dropped client resumes from the id in the close reason and gets the rest exactly once.
    resume_from = int(reason.rsplit("=", 1)[1])
    resumed = []
    async for event in stream(stack.settings, f"/ws/patients/{patient}", token, last_event_id=resume_from):
        if event["kind"] == "task":
            resumed.append(event["ref"])
        if event["ref"] == "burst-19":
            break
    assert resumed == [m["ref"] for m in got if m["id"] > resume_from]


def _lab_result(patient: str, encounter: str, value: float, security: list[str] | None = None) -> dict[str, Any]:
    obs: dict[str, Any] = {
        "resourceType": "Observation", "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                  "code": "laboratory"}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "718-7", "display": "Hemoglobin"}]},
        "subject": {"reference": f"Patient/{patient}"}, "encounter": {"reference": f"Encounter/{encounter}"},
        "effectiveDateTime": "2026-11-25T10:00:00Z",
        "valueQuantity": {"value": value, "unit": "g/dL", "system": "http://unitsofmeasure.org", "code": "g/dL"},
    }
    if security:
        obs["meta"] = {"security": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": c}
                                    for c in security]}
    return obs


async def test_results_are_pushed_and_labels_are_enforced_per_push(stack: Stack, admit: Admit) -> None:
    # On the psychiatry ward under care team A: the ward's nurse (team B) may not see labelled results.
    patient, encounter = admit(ward="psychiatry", attending="attending-1")
    ws = await _open(stack, f"/ws/patients/{patient}", stack.token("nurse-psychiatry-1", "nurse"))
    await _until_subscribed(ws)
    with stack.services.sessions() as s:  # a psychiatric-labelled result first, then an ordinary one
        hidden, _ = observations_repo.record_observation(s, stack.services.field_cipher,
                                                         _lab_result(patient, encounter, 9.1, ["PSY"]))
        shown, _ = observations_repo.record_observation(s, stack.services.field_cipher,
                                                        _lab_result(patient, encounter, 13.2))
        s.commit()
    [msg] = await _events(ws, 1, "result")
    await ws.close()
    assert msg["kind"] == "result" and msg["ref"] == shown and hidden != shown
    assert msg["data"]["resourceType"] == "Observation" and msg["data"]["valueQuantity"]["value"] == 13.2
    denied = [e.event for e in stack.services.ledger.query(patient_id=patient, actor="nurse-psychiatry-1")
              if e.event.subtype == "stream.push.result" and e.event.decision == "deny"]
    assert denied and denied[0].resource_id == hidden


async def test_the_listener_reconnects_and_replays_what_it_missed(stack: Stack, admit: Admit) -> None:
    patient, encounter = admit()
    hub = stack.app.state.stream_hub  # type: ignore[attr-defined]
    ws = await _open(stack, f"/ws/patients/{patient}", stack.token("nurse-medical-1", "nurse"))
    await _until_subscribed(ws)
    with stack.services.sessions() as s:  # the database drops the LISTEN connection
        killed = s.execute(sa.text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND query = 'LISTEN hms_events'")).scalars().all()
        s.commit()
    assert killed == [True]
    vitals_id = record_vitals(stack, patient, encounter)  # committed while nobody (or a new listener) listens
    [msg] = await _events(ws, 1, "vitals")
    await ws.close()
    assert msg["ref"] == vitals_id
    await asyncio.wait_for(hub.listening.wait(), WAIT)


async def test_events_arrive_in_id_order_across_out_of_order_commits(stack: Stack, admit: Admit) -> None:
    patient, _ = admit()
    ws = await _open(stack, f"/ws/patients/{patient}", stack.token("nurse-medical-1", "nurse"))
    await _until_subscribed(ws)
    first, second = stack.services.sessions(), stack.services.sessions()
    low = events_repo.emit(first, patient_id=patient, kind="result", ref="lower-id", ward="medical")
    high = events_repo.emit(second, patient_id=patient, kind="result", ref="higher-id", ward="medical")
    second.commit()  # the higher id becomes visible first
    await asyncio.sleep(0.2)  # give a hub that ignored the gap its chance to push the higher id first
    first.commit()
    rolled, kept = stack.services.sessions(), stack.services.sessions()
    events_repo.emit(rolled, patient_id=patient, kind="result", ref="rolled-back", ward="medical")
    events_repo.emit(kept, patient_id=patient, kind="result", ref="kept", ward="medical")
    kept.commit()
    await asyncio.sleep(0.1)
    rolled.rollback()
    for s in (first, second, rolled, kept):
        s.close()
    got = await _events(ws, 3, "result")
    await ws.close()
    assert [(m["id"], m["ref"]) for m in got] == [(low, "lower-id"), (high, "higher-id"), (got[2]["id"], "kept")]


async def test_subscribe_helper_waits_for_the_subscription_then_matches_events(stack: Stack, admit: Admit) -> None:
    patient, encounter = admit()
    async with subscribe(stack.settings, "/ws/wards/medical", stack.token("nurse-medical-1", "nurse")) as events:
        task_id = open_task(stack, patient, encounter)
        complete_task(stack, task_id)
        done = await events.next(lambda e: e["ref"] == task_id and e["data"]["status"] == "completed", timeout=WAIT)
    assert done["kind"] == "task" and done["patient_id"] == patient
    with pytest.raises(StreamRefused):
        async with subscribe(stack.settings, "/ws/wards/medical", stack.token("manager-1", "manager")):
            pass


async def test_a_stage_emitted_by_a_workflow_carries_the_current_stay(stack: Stack, admit: Admit) -> None:
    patient, encounter = admit()
    ws = await _open(stack, f"/ws/patients/{patient}", stack.token("attending-1", "attending_physician"))
    await _until_subscribed(ws)
    with stack.services.sessions() as s:
        events_repo.emit(s, patient_id=patient, kind="stage", ref="imaging-abc:running", ward="medical", once=True)
        s.commit()
    msg = await _first(ws, lambda m: m.get("ref") == "imaging-abc:running")
    await ws.close()
    assert msg["data"]["stage_ref"] == "imaging-abc:running" and msg["data"]["encounter_id"] == encounter
    assert msg["data"]["stage"] == "admitted"


async def test_an_expired_token_ends_the_stream(stack: Stack, admit: Admit) -> None:
    from deploy.tokens import issue_token

    patient, _ = admit()
    short = issue_token(stack.settings, "nurse-medical-1", "nurse", ttl=1)  # verified with 5 s of leeway
    ws = await _open(stack, f"/ws/patients/{patient}", short)
    await _until_subscribed(ws)
    code, reason = await _closed_with(ws)
    assert code == 4401 and "expired" in reason


async def test_a_binary_first_message_is_read_like_text(stack: Stack, admit: Admit) -> None:
    patient, _ = admit()
    ws = await _open(stack, f"/ws/patients/{patient}", None)
    await ws.send(json.dumps({"access_token": stack.token("nurse-medical-1", "nurse")}).encode())
    _, subscribed = await _until_subscribed(ws)
    await ws.close()
    assert subscribed["stream"] == f"/ws/patients/{patient}"
