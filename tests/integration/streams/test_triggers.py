"""The event source: triggers fire with the change they describe (and only then), notify at commit."""
from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
import sqlalchemy as sa

from activities.storage import events_repo
from activities.storage import tasks as task_store
from activities.storage.models_events import Event
from api.streams.hub import EventHub, conninfo_of
from tests.integration.streams.conftest import Stack, open_task, record_vitals

pytestmark = pytest.mark.integration
Admit = Callable[..., tuple[str, str]]


def events_of(stack: Stack, patient: str) -> list[tuple[str, str, str | None]]:
    with stack.services.sessions() as s:
        return [(e.kind, e.ref, e.ward) for e in events_repo.since(s, 0, patient_id=patient)]


def test_admission_and_stage_changes_are_events(stack: Stack, admit: Admit) -> None:
    patient, encounter = admit(ward="surgical")
    assert events_of(stack, patient) == [("stage", encounter, "surgical"), ("stage", encounter, "surgical")]
    with stack.services.sessions() as s:
        s.execute(sa.text("UPDATE hms.encounters SET reason = 'edited' WHERE id = :e"), {"e": encounter})
        s.execute(sa.text("UPDATE hms.encounters SET ward_id = 'icu' WHERE id = :e"), {"e": encounter})
        s.commit()
    assert events_of(stack, patient)[2:] == [("stage", encounter, "icu")]


def test_vitals_take_the_ward_of_the_stay(stack: Stack, admit: Admit) -> None:
    patient, encounter = admit(ward="medical")
    with_encounter = record_vitals(stack, patient, encounter)
    without = record_vitals(stack, patient, None)  # recorded before the stay was linked: the current stay's ward
    assert events_of(stack, patient)[-2:] == [("vitals", with_encounter, "medical"), ("vitals", without, "medical")]


def test_a_rolled_back_change_leaves_no_event(stack: Stack, admit: Admit) -> None:
    patient, encounter = admit()
    before = events_of(stack, patient)
    with stack.services.sessions() as s:
        s.execute(sa.text("UPDATE hms.encounters SET status = 'finished' WHERE id = :e"), {"e": encounter})
        events_repo.emit(s, patient_id=patient, kind="result", ref="never", ward="medical")
        s.rollback()
    assert events_of(stack, patient) == before


def test_task_events_on_create_and_real_changes_only(stack: Stack, admit: Admit) -> None:
    patient, encounter = admit()
    task_id = open_task(stack, patient, encounter)
    with stack.services.sessions() as s:  # a retried upsert with the same state is no event
        task_store.upsert_task(s, {"id": task_id, "type": "bed-management", "role": "nurse", "ward_id": "medical",
                                   "patient_id": patient, "encounter_id": encounter,
                                   "journey_id": f"journey-{encounter}", "workflow_id": "wf", "status": "open",
                                   "due": datetime.now(UTC) + timedelta(hours=1), "details": {},
                                   "created_at": datetime.now(UTC)})
        s.commit()
    assert [k for k, ref, _ in events_of(stack, patient) if ref == task_id] == ["task"]
    with stack.services.sessions() as s:  # claimed (assigned), then completed
        s.execute(sa.text("UPDATE hms.tasks SET details = '{\"assigned_to\": \"nurse-medical-1\"}' WHERE id = :t"),
                  {"t": task_id})
        task_store.close_task(s, task_id, "completed", "nurse-medical-1", datetime.now(UTC))
        s.commit()
    assert [k for k, ref, _ in events_of(stack, patient) if ref == task_id] == ["task", "task", "task"]


def test_notify_carries_the_id_at_commit(stack: Stack, admit: Admit) -> None:
    patient, encounter = admit()
    conninfo = conninfo_of(stack.services.sessions)
    assert conninfo
    with psycopg.connect(conninfo, autocommit=True) as listener:
        listener.execute("LISTEN hms_events")
        with stack.services.sessions() as s:
            event_id = events_repo.emit(s, patient_id=patient, kind="result", ref="obs-1", ward="medical")
            assert list(listener.notifies(timeout=0.2, stop_after=1)) == []  # nothing before the commit
            s.commit()
        notes = list(listener.notifies(timeout=10, stop_after=1))
    assert [n.payload for n in notes] == [str(event_id)] and notes[0].channel == "hms_events"


def test_purge_keeps_the_retention_period(stack: Stack) -> None:
    patient = f"purge-{uuid.uuid4().hex[:8]}"
    with stack.services.sessions() as s:
        old = events_repo.emit(s, patient_id=patient, kind="task", ref="old")
        new = events_repo.emit(s, patient_id=patient, kind="task", ref="new")
        s.execute(sa.update(Event).where(Event.id == old).values(occurred_at=datetime.now(UTC) - timedelta(days=40)))
        s.commit()
        purged = events_repo.purge(s, older_than=timedelta(days=30))
        s.commit()
        assert purged >= 1
        assert [e.id for e in events_repo.since(s, 0, patient_id=patient)] == [new]


def test_emit_once_announces_a_change_a_single_time(stack: Stack) -> None:
    patient = f"once-{uuid.uuid4().hex[:8]}"
    with stack.services.sessions() as s:
        first = events_repo.emit(s, patient_id=patient, kind="stage", ref="imaging-1:completed", ward="icu", once=True)
        s.commit()
        again = events_repo.emit(s, patient_id=patient, kind="stage", ref="imaging-1:completed", ward="icu", once=True)
        s.commit()
    assert isinstance(first, int) and again is None
    assert events_of(stack, patient) == [("stage", "imaging-1:completed", "icu")]


def test_observations_are_results_or_vitals_and_amendments_are_events(stack: Stack, admit: Admit) -> None:
    from activities.storage import observations_repo

    patient, encounter = admit(ward="icu", attending="attending-2")
    cat = "http://terminology.hl7.org/CodeSystem/observation-category"

    def obs(category: str, value: float) -> dict:
        return {"resourceType": "Observation", "status": "final",
                "category": [{"coding": [{"system": cat, "code": category}]}],
                "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
                "subject": {"reference": f"Patient/{patient}"}, "encounter": {"reference": f"Encounter/{encounter}"},
                "effectiveDateTime": "2026-11-25T10:00:00Z", "valueQuantity": {"value": value, "unit": "/min"}}

    cipher = stack.services.field_cipher
    with stack.services.sessions() as s:
        lab, _ = observations_repo.record_observation(s, cipher, obs("laboratory", 1.0))
        vital, _ = observations_repo.record_observation(s, cipher, obs("vital-signs", 72))
        s.commit()
        observations_repo.update_observation(s, cipher, lab, obs("laboratory", 2.0))
        s.commit()
    assert events_of(stack, patient)[2:] == [("result", lab, "icu"), ("vitals", vital, "icu"), ("result", lab, "icu")]


async def test_the_hub_purges_events_past_retention_while_it_runs(stack: Stack) -> None:
    patient = f"retain-{uuid.uuid4().hex[:8]}"
    with stack.services.sessions() as s:
        old = events_repo.emit(s, patient_id=patient, kind="task", ref="old")
        new = events_repo.emit(s, patient_id=patient, kind="task", ref="new")
        s.execute(sa.update(Event).where(Event.id == old).values(occurred_at=datetime.now(UTC) - timedelta(days=4)))
        s.commit()
    hub = EventHub(stack.services.sessions, conninfo_of(stack.services.sessions), retention=timedelta(days=3),
                   purge_every_seconds=0.2)
    await hub.start()
    try:
        for _ in range(100):
            with stack.services.sessions() as s:
                left = [e.id for e in events_repo.since(s, 0, patient_id=patient)]
            if left == [new]:
                break
            await asyncio.sleep(0.1)
    finally:
        await hub.stop()
    assert left == [new]
