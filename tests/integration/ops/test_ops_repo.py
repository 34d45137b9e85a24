"""The aggregate queries on real PostgreSQL: stages from stays and tasks, the ED queue from triage, overdue work.

The session database is shared with other tests, so each check compares before and after.
"""
from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from activities.storage import ops_repo
from activities.storage.db import make_session_factory
from activities.storage.models import Encounter, Patient, Task
from activities.storage.models_triage import TriageAssessment, VitalSigns

pytestmark = pytest.mark.integration


def _patient(s: sa.orm.Session) -> str:
    pid = str(uuid.uuid4())
    s.add(Patient(id=pid, given=b"x", family=b"x", birth_date=b"x", gender=b"x"))
    s.flush()
    return pid


def _stay(s: sa.orm.Session, ward: str, status: str, now: datetime, *, admitted: bool = True) -> tuple[str, str, str]:
    pid, eid = _patient(s), str(uuid.uuid4())
    s.add(Encounter(id=eid, patient_id=pid, journey_id=f"journey-{eid}", status=status, ward_id=ward, reason=b"r",
                    created_at=now - timedelta(hours=2), admitted_at=now - timedelta(hours=1) if admitted else None,
                    ended_at=now if status == "finished" else None))
    s.flush()
    return pid, eid, f"journey-{eid}"


def _triage(s: sa.orm.Session, pid: str, eid: str | None, esi: int, now: datetime) -> None:
    tid, vid = f"triage-{uuid.uuid4()}", f"vs-{uuid.uuid4()}"
    s.add(VitalSigns(id=vid, patient_id=pid, encounter_id=eid, triage_id=tid, values={}, effective_at=now,
                     recorded_by="triage-nurse-1"))
    s.flush()
    for seq, level in ((1, 5), (2, esi)):  # the newest assessment of the episode counts
        s.add(TriageAssessment(id=f"{tid}-{seq}", triage_id=tid, patient_id=pid, encounter_id=eid, sequence=seq,
                               kind="initial", observation_id=vid, news2=3, news2_band="low", esi_suggested=level,
                               esi_final=level, red_flags=[], model_version="t", assessed_by="triage-nurse-1",
                               assessed_at=now))


def _task(s: sa.orm.Session, ttype: str, ward: str, journey_id: str, pid: str, due: datetime, now: datetime) -> None:
    s.add(Task(id=f"{ttype}-{uuid.uuid4()}", type=ttype, role="nurse", ward_id=ward, patient_id=pid,
               journey_id=journey_id, workflow_id="wf", status="open", due=due, details={}, created_at=now))


def _snapshot(sessions: sa.orm.sessionmaker, now: datetime) -> dict:
    with sessions() as s:
        return {"queue": {q["acuity"]: q["waiting"] for q in ops_repo.ed_queue(s, now)},
                "stages": {x["stage"]: x["journeys"] for x in ops_repo.journeys_by_stage(s, now)},
                "overdue": {(t["type"], t["ward"]): t["overdue"] for t in ops_repo.overdue_tasks(s, now)},
                "doses": ops_repo.pharmacy(s, now)["doses"],
                "occupancy": {w["ward"]: w["active_stays"] for w in ops_repo.occupancy(s)}}


def test_aggregates_follow_the_records(db_engine: sa.Engine) -> None:
    sessions = make_session_factory(db_engine)
    now = datetime.now(UTC)
    before = _snapshot(sessions, now)
    with sessions() as s, s.begin():
        pid, eid, ed_journey = _stay(s, "emergency", "in-progress", now)
        _triage(s, pid, eid, 2, now)
        waiting = _patient(s)
        _triage(s, waiting, None, 4, now)  # triaged, no stay yet: still in the ED queue
        mpid, _, discharging = _stay(s, "medical", "in-progress", now)
        _task(s, "medication-reconciliation", "medical", discharging, mpid, now + timedelta(hours=1), now)
        _task(s, "medication-administration", "medical", discharging, mpid, now - timedelta(hours=1), now)
        _, _, arriving = _stay(s, "surgical", "planned", now, admitted=False)
        fpid, feid, finished = _stay(s, "emergency", "finished", now)
        _triage(s, fpid, feid, 1, now)  # left the ED: not queued any more
    after = _snapshot(sessions, now)

    assert after["queue"]["ESI-2"] == before["queue"]["ESI-2"] + 1
    assert after["queue"]["ESI-4"] == before["queue"]["ESI-4"] + 1
    assert after["queue"]["ESI-1"] == before["queue"]["ESI-1"]
    for stage, added in (("admitted", 1), ("discharging", 1), ("admission", 1), ("discharged", 1)):
        assert after["stages"][stage] == before["stages"][stage] + added, stage
    key = ("medication-administration", "medical")
    assert after["overdue"][key] == before["overdue"].get(key, 0) + 1
    assert ("medication-reconciliation", "medical") not in after["overdue"] or \
        after["overdue"][("medication-reconciliation", "medical")] == before["overdue"].get(
            ("medication-reconciliation", "medical"), 0)
    assert after["doses"]["overdue"] == before["doses"]["overdue"] + 1
    assert after["occupancy"]["medical"] == before["occupancy"]["medical"] + 1

    with sessions() as s:
        rows = {j["journey_id"]: j for j in ops_repo.journeys(s, now, limit=500)}
        assert rows[ed_journey]["acuity"] == "ESI-2" and rows[ed_journey]["stage"] == "admitted"
        assert rows[discharging]["stage"] == "discharging" and rows[arriving]["stage"] == "admission"
        assert rows[finished]["stage"] == "discharged" and rows[finished]["acuity"] == "ESI-1"
        only = ops_repo.journeys(s, now, stage="admitted", ward="emergency", acuity="ESI-2", limit=500)
        assert ed_journey in {j["journey_id"] for j in only}
        assert all((j["stage"], j["ward"], j["acuity"]) == ("admitted", "emergency", "ESI-2") for j in only)
        assert all("patient_id" not in j for j in rows.values())
