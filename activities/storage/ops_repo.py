"""De-identified aggregates for the manager console: counts by ward, stage, acuity and type.

Every function returns counts or codes keyed by ward/stage/type, never a patient id, a name
or an identifier: the manager role is only ever given these shapes. Journey stages are read
from the database (encounters and open tasks), not from each workflow, so one query answers
for the whole hospital however many journeys run.
"""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from activities.storage.models import ACTIVE_ENCOUNTER_STATES, Bed, Encounter, Task, User, Ward
from activities.storage.models_imaging import DiagnosticReport, ImagingOrder
from activities.storage.models_pharmacy import MedicationOrder
from activities.storage.models_triage import TriageAssessment

#: Task types that mark a journey as discharging while they are open.
DISCHARGE_TASKS = ("medication-reconciliation", "follow-up", "bed-cleaning", "billing-settlement")
#: The pharmacy and imaging task types whose overdue count the console shows.
DOSE_TASK, REPORT_TASK = "medication-administration", "imaging-report"
NURSING_ROLES = ("nurse", "triage_nurse")


def occupancy(session: Session) -> list[dict[str, Any]]:
    """Beds, occupied beds and active stays per ward."""
    occupied = sa.func.count(Bed.encounter_id)
    rows = session.execute(
        sa.select(Ward.id, Ward.name, sa.func.count(Bed.id), occupied)
        .join(Bed, Bed.ward_id == Ward.id, isouter=True).group_by(Ward.id, Ward.name).order_by(Ward.id)).all()
    active = dict(session.execute(
        sa.select(Encounter.ward_id, sa.func.count()).where(Encounter.status.in_(ACTIVE_ENCOUNTER_STATES))
        .group_by(Encounter.ward_id)).all())
    return [{"ward": w, "ward_name": name, "beds": int(beds), "occupied": int(occ), "free": int(beds) - int(occ),
             "active_stays": int(active.get(w, 0))} for w, name, beds, occ in rows]


def _latest_triage() -> Any:
    """The newest assessment of each triage episode (a sub-select)."""
    ranked = sa.select(
        TriageAssessment.triage_id, TriageAssessment.encounter_id, TriageAssessment.esi_final,
        TriageAssessment.assessed_at,
        sa.func.row_number().over(partition_by=TriageAssessment.triage_id,
                                  order_by=TriageAssessment.sequence.desc()).label("rn")).subquery()
    return sa.select(ranked).where(ranked.c.rn == 1).subquery()


def ed_queue(session: Session, now: datetime, window_hours: int = 12) -> list[dict[str, Any]]:
    """Patients triaged in the ED and still there (stay active, or no stay yet within the window), by ESI."""
    latest = _latest_triage()
    enc = sa.orm.aliased(Encounter)
    waiting = sa.or_(enc.status.in_(ACTIVE_ENCOUNTER_STATES) & (enc.ward_id == "emergency"),
                     (latest.c.encounter_id.is_(None)) & (latest.c.assessed_at >= now - timedelta(hours=window_hours)))
    rows = session.execute(
        sa.select(latest.c.esi_final, sa.func.count()).select_from(latest)
        .join(enc, enc.id == latest.c.encounter_id, isouter=True).where(waiting)
        .group_by(latest.c.esi_final)).all()
    counts = {int(esi): int(n) for esi, n in rows}
    return [{"acuity": f"ESI-{level}", "waiting": counts.get(level, 0)} for level in range(1, 6)]


def _journey_rows(session: Session, since: datetime) -> list[Any]:
    """One row per stay (active, or ended since ``since``): journey id, ward, status, admitted, acuity."""
    latest = _latest_triage()
    discharging = sa.select(Task.journey_id).where(Task.status == "open", Task.type.in_(DISCHARGE_TASKS))
    return list(session.execute(
        sa.select(Encounter.journey_id, Encounter.ward_id, Encounter.status, Encounter.admitted_at,
                  Encounter.created_at, latest.c.esi_final,
                  Encounter.journey_id.in_(discharging).label("discharging"))
        .join(latest, latest.c.encounter_id == Encounter.id, isouter=True)
        .where(sa.or_(Encounter.status.in_(ACTIVE_ENCOUNTER_STATES), Encounter.ended_at >= since))
        .order_by(Encounter.created_at.desc())).all())


def _stage(row: Any) -> str:
    if row.status in ("finished", "cancelled"):
        return "discharged"
    if row.discharging:
        return "discharging"
    return "admitted" if row.admitted_at is not None else "admission"


def journeys_by_stage(session: Session, now: datetime) -> list[dict[str, Any]]:
    """Journeys per stage (discharged: within the last 24 hours)."""
    counts = Counter(_stage(r) for r in _journey_rows(session, now - timedelta(hours=24)))
    return [{"stage": s, "journeys": counts.get(s, 0)} for s in ("admission", "admitted", "discharging", "discharged")]


def journeys(session: Session, now: datetime, *, stage: str | None = None, ward: str | None = None,
             acuity: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    """Journeys for operators: stage, ward, acuity, journey id and how long ago it began (no patient data)."""
    out = []
    for r in _journey_rows(session, now - timedelta(hours=24)):
        item = {"journey_id": r.journey_id, "stage": _stage(r), "ward": r.ward_id,
                "acuity": f"ESI-{r.esi_final}" if r.esi_final is not None else None,
                "hours_since_start": round((now - r.created_at).total_seconds() / 3600, 1)}
        if (stage and item["stage"] != stage) or (ward and item["ward"] != ward) or (acuity and item["acuity"] != acuity):
            continue
        out.append(item)
        if len(out) >= limit:
            break
    return out


def overdue_tasks(session: Session, now: datetime) -> list[dict[str, Any]]:
    """Open tasks past their due time, by type and ward."""
    rows = session.execute(
        sa.select(Task.type, Task.ward_id, sa.func.count()).where(Task.status == "open", Task.due < now)
        .group_by(Task.type, Task.ward_id).order_by(Task.type, Task.ward_id)).all()
    return [{"type": t, "ward": w, "overdue": int(n)} for t, w, n in rows]


def open_tasks_of(session: Session, task_type: str, now: datetime) -> dict[str, int]:
    row = session.execute(
        sa.select(sa.func.count(), sa.func.count().filter(Task.due < now))
        .where(Task.status == "open", Task.type == task_type)).one()
    return {"open": int(row[0]), "overdue": int(row[1])}


def _daily(session: Session, column: Any, since: datetime, *where: Any) -> list[dict[str, Any]]:
    day = sa.func.date_trunc("day", column).label("day")
    rows = session.execute(sa.select(day, sa.func.count()).where(column >= since, *where)
                           .group_by(day).order_by(day)).all()
    return [{"day": d.date().isoformat(), "count": int(n)} for d, n in rows]


def pharmacy(session: Session, now: datetime, days: int = 14) -> dict[str, Any]:
    """Medication orders by status, the dose worklist (open/overdue) and orders per day."""
    by_status = session.execute(sa.select(MedicationOrder.status, sa.func.count())
                                .group_by(MedicationOrder.status).order_by(MedicationOrder.status)).all()
    return {"orders_by_status": [{"status": s, "orders": int(n)} for s, n in by_status],
            "verification": open_tasks_of(session, "medication-verification", now),
            "doses": open_tasks_of(session, DOSE_TASK, now),
            "orders_per_day": _daily(session, MedicationOrder.created_at, now - timedelta(days=days))}


def imaging(session: Session, now: datetime, days: int = 14) -> dict[str, Any]:
    """Imaging orders by status and modality, the report worklist (open/overdue) and daily trends."""
    by_status = session.execute(sa.select(ImagingOrder.status, ImagingOrder.modality, sa.func.count())
                                .group_by(ImagingOrder.status, ImagingOrder.modality)
                                .order_by(ImagingOrder.status, ImagingOrder.modality)).all()
    since = now - timedelta(days=days)
    return {"orders_by_status": [{"status": s, "modality": m, "orders": int(n)} for s, m, n in by_status],
            "reports": open_tasks_of(session, REPORT_TASK, now),
            "orders_per_day": _daily(session, ImagingOrder.created_at, since),
            "reports_per_day": _daily(session, DiagnosticReport.issued_at, since)}


def rostered_nurses(session: Session) -> dict[str, int]:
    """Active nursing users per ward (a nurse covering two wards counts on both)."""
    counts: Counter[str] = Counter()
    for wards in session.scalars(sa.select(User.wards).where(User.active, User.role.in_(NURSING_ROLES))):
        counts.update(wards or ())
    return dict(counts)


def surge_alerts(session: Session, limit: int = 20) -> list[dict[str, Any]]:
    """The surge tasks opened for managers (the surge watch's output), newest first."""
    rows = session.scalars(sa.select(Task).where(Task.type == "surge-alert").order_by(Task.created_at.desc())
                           .limit(limit))
    return [{"id": t.id, "status": t.status, "created_at": t.created_at.isoformat(),
             "due": t.due.isoformat() if t.due else None, "ward": t.ward_id, "details": dict(t.details or {})}
            for t in rows]
