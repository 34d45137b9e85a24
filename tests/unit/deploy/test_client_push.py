"""The drivers' pushed-event wake-ups: what the ward stream records, and how a wait uses it."""
from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from deploy import client_push
from deploy.client import ApiClient
from deploy.client_push import Wakeups, current_patient

ORDER = {"stage": "imaging", "source": "imaging-order", "status": "ordered", "order_id": "o-1"}
EVENTS = [
    {"kind": "stage", "patient_id": "p-1", "ref": "enc-1", "data": {"status": "planned", "stage": "admission"}},
    {"kind": "stage", "patient_id": "p-1", "ref": "enc-1", "data": {"status": "in-progress", "stage": "admitted"}},
    {"kind": "stage", "patient_id": "p-1", "ref": "imaging-order/o-1", "data": ORDER},
    {"kind": "stage", "patient_id": "p-1", "ref": "wf-x", "data": {"status": "finished", "stage_ref": "wf-x"}},
    {"kind": "task", "patient_id": "p-1", "ref": "t-1",
     "data": {"id": "t-1", "type": "bed-cleaning", "role": "nurse", "status": "open", "details": {}}},
    {"kind": "stage", "patient_id": "p-2", "ref": "enc-2", "data": None},
]


async def _followed(monkeypatch: pytest.MonkeyPatch, events: list[dict[str, Any]]) -> Wakeups:
    async def fake_stream(settings: Any, path: str, token: str):  # noqa: ANN202
        for e in events:
            yield e

    monkeypatch.setattr(client_push, "stream", fake_stream)
    monkeypatch.setattr(client_push, "issue_token", lambda *a, **k: "token")
    w = Wakeups(settings=SimpleNamespace(token_ttl_seconds=60))  # type: ignore[arg-type]
    w.watch("medical")
    await asyncio.gather(*w._tasks.values())
    return w


async def test_the_stream_records_encounter_status_stage_rows_and_tasks(monkeypatch: pytest.MonkeyPatch) -> None:
    w = await _followed(monkeypatch, EVENTS)
    # the encounter's own events set its status; a workflow's stage event (stage_ref) does not
    assert w.encounter_status("p-1") == "in-progress"
    assert w.encounter_status("p-2") is None
    assert w.pushed_stage("p-1", "imaging-order", {"order_id": "o-1"}) == ORDER
    assert w.pushed_stage("p-1", "imaging-order", {"order_id": "o-2"}) is None
    assert w.pushed_stage("p-1", "claim") is None
    assert w.pushed_task("p-1", "bed-cleaning", role="nurse")["id"] == "t-1"
    assert w.received == len(EVENTS)


def _client(wakeups: Wakeups | None) -> ApiClient:
    api = ApiClient.__new__(ApiClient)
    api.poll_interval, api.max_poll_interval, api.push_fallback, api.wakeups = 0.01, 0.05, 0.4, wakeups
    return api


async def test_a_wait_that_cannot_be_answered_yet_does_not_ask_first() -> None:
    w = Wakeups(settings=None)  # type: ignore[arg-type]
    api, asked, ready = _client(w), [], []

    async def probe() -> str | None:
        asked.append(1)
        return None

    async def push_later() -> None:
        await asyncio.sleep(0.02)
        ready.append("pushed")
        w._events["p-1"].set()

    current_patient.set("p-1")
    pusher = asyncio.create_task(push_later())
    found = await api.poll(probe, 5, "x", pushed=lambda: ready[0] if ready else None, probe_first=False)
    await pusher
    assert found == "pushed"
    assert asked == []  # answered from the pushed event alone


async def test_without_the_event_the_wait_falls_back_to_asking() -> None:
    w = Wakeups(settings=None)  # type: ignore[arg-type]
    api, asked = _client(w), []

    async def probe() -> str | None:
        asked.append(1)
        return "read" if len(asked) == 2 else None

    current_patient.set("p-1")
    assert await api.poll(probe, 5, "x", pushed=lambda: None, probe_first=False) == "read"
    assert len(asked) == 2  # only on the fallback interval, never at the start


async def test_without_wakeups_probe_first_false_still_asks_at_once() -> None:
    api, asked = _client(None), []

    async def probe() -> str:
        asked.append(1)
        return "read"

    current_patient.set("p-1")
    assert await api.poll(probe, 5, "x", probe_first=False) == "read"
    assert asked == [1]


async def test_a_wait_times_out_with_what_it_waited_for() -> None:
    async def never() -> None:
        return None

    with pytest.raises(TimeoutError, match="the thing within"):
        await _client(None).poll(never, 0.05, "the thing")


async def test_poll_when_asks_only_after_the_event_it_waits_for() -> None:
    w = Wakeups(settings=None)  # type: ignore[arg-type]
    api, asked, seen = _client(w), [], []

    async def probe() -> str | None:
        asked.append(bool(seen))
        return "read"

    async def push_later() -> None:
        await asyncio.sleep(0.02)
        w._encounters["p-1"] = "in-progress"
        seen.append(1)
        w._events["p-1"].set()

    current_patient.set("p-1")
    pusher = asyncio.create_task(push_later())
    found = await api.poll_when(probe, 5, "x", ready=lambda wk: wk.encounter_status("p-1") == "in-progress")
    await pusher
    assert found == "read" and asked == [True]  # one ask, after the event
