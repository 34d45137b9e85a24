"""The task inbox: a projection of the human tasks the journeys hold open.

Workflows are the source of truth; they write here through idempotent
activities so the inbox can be filtered by role, ward and patient cheaply.

A task's details are split on the way in: the ids, codes and bookkeeping the inbox filters
and joins on (``ROUTING_KEYS``: an order id, the assigned radiologist, a due time) stay in the
clear in ``details``; everything else (drug, dose, allergy hits, body site, complaint
category, AI scores …) is sealed as JSON in ``details_enc`` under the patient's data key.
``opened`` merges them back, so readers answer with the same dict the workflow wrote; once
the patient is erased only the routing keys remain readable. Tasks of no patient (surge
alerts: ward forecasts) hold no patient data and stay in the clear.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from activities.crypto.fields import DataErased, FieldCipher, ephemeral_cipher
from activities.storage import sealed
from activities.storage.models import Task

TASKS = "tasks"
#: Detail keys kept queryable in the clear: identifiers, codes of workflow state, never clinical content.
ROUTING_KEYS = frozenset({
    "order_id", "study_id", "assigned_to", "triage_id", "intake_id", "grant_id", "claim_id", "invoice_id",
    "erasure_id", "request_id", "observation_id", "dose_task_id", "dose_number", "doses", "kind", "priority",
    "escalation", "escalation_level", "escalated_at", "sla_minutes", "sla_breaches", "ward", "waiting_since",
    "requires_override", "holder", "holder_role", "requested_by", "requester_role", "due", "bed_id", "total",
    "currency", "field", "ai_status", "decision_support", "escalated_from", "attending",
})


def split_details(details: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(routing keys, the rest): what stays queryable, what is sealed."""
    plain = {k: v for k, v in details.items() if k in ROUTING_KEYS}
    return plain, {k: v for k, v in details.items() if k not in ROUTING_KEYS}


def sealed_values(session: Session, cipher: FieldCipher | None, values: dict[str, Any]) -> dict[str, Any]:
    """The row's values with its details split and the clinical part sealed (an erased patient's is dropped)."""
    out = dict(values)
    details, patient_id = out.get("details") or {}, out.get("patient_id")
    if not patient_id:
        out["details"], out["details_enc"] = details, None
        return out
    plain, rest = split_details(details)
    out["details"], out["details_enc"] = plain, None
    if rest:
        cipher = cipher or ephemeral_cipher()
        try:
            key = cipher.data_key(session, patient_id, create=True)
        except DataErased:
            return out
        out["details_enc"] = sealed.seal_json(cipher, key, TASKS, "details_enc", out["id"], rest)
    return out


def upsert_task(session: Session, values: dict[str, Any], cipher: FieldCipher | None = None) -> None:
    """Insert or refresh a task row; a closed task is never reopened by a late retry.

    ``cipher`` None uses the process's ephemeral keys (tests only; the activities pass theirs).
    """
    values = sealed_values(session, cipher, values)
    stmt = insert(Task).values(**values)
    updatable = {k: stmt.excluded[k] for k in values if k not in ("id", "created_at")}
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["id"], set_=updatable,
            where=sa.or_(Task.status == "open", stmt.excluded.status != "open"),
        )
    )


def close_task(session: Session, task_id: str, status: str, by: str | None, at: datetime) -> None:
    session.execute(
        sa.update(Task).where(Task.id == task_id, Task.status == "open")
        .values(status=status, completed_by=by, completed_at=at)
    )


def get_task(session: Session, task_id: str) -> Task | None:
    return session.get(Task, task_id)


def list_open_tasks(
    session: Session,
    *,
    role: str | None = None,
    ward: str | None = None,
    wards: list[str] | None = None,
    patient_id: str | None = None,
    journey_id: str | None = None,
    status: str | None = "open",
    limit: int = 200,
) -> list[Task]:
    query = sa.select(Task)
    if status:
        query = query.where(Task.status == status)
    if role:
        query = query.where(Task.role == role)
    if ward:
        query = query.where(Task.ward_id == ward)
    if wards is not None:
        query = query.where(Task.ward_id.in_(wards))
    if patient_id:
        query = query.where(Task.patient_id == patient_id)
    if journey_id:
        query = query.where(Task.journey_id == journey_id)
    return list(session.scalars(query.order_by(Task.due.asc().nulls_last(), Task.created_at).limit(limit)))


@dataclass(frozen=True)
class TaskView:
    """A task row with its details opened: the attributes of ``Task``, ``details`` whole again."""

    id: str
    type: str
    role: str
    ward_id: str | None
    patient_id: str
    encounter_id: str | None
    journey_id: str
    workflow_id: str
    status: str
    due: datetime | None
    details: dict[str, Any]
    created_at: datetime
    completed_at: datetime | None
    completed_by: str | None


def opened(session: Session, cipher: FieldCipher, tasks: Iterable[Task]) -> list[TaskView]:
    """The tasks with their sealed details merged back (one key query for all their patients).

    A task of an erased patient keeps only its routing keys: the rest was shredded with the key.
    """
    rows = list(tasks)
    keys = sealed.keys_for(session, cipher, (t.patient_id for t in rows if t.details_enc is not None))
    out = []
    for t in rows:
        details = dict(t.details or {})
        if t.details_enc is not None and not isinstance(key := keys[t.patient_id], Exception):
            details.update(sealed.unseal_json(cipher, key, TASKS, "details_enc", t.id, t.details_enc))
        out.append(TaskView(id=t.id, type=t.type, role=t.role, ward_id=t.ward_id, patient_id=t.patient_id,
                            encounter_id=t.encounter_id, journey_id=t.journey_id, workflow_id=t.workflow_id,
                            status=t.status, due=t.due, details=details, created_at=t.created_at,
                            completed_at=t.completed_at, completed_by=t.completed_by))
    return out


def read_task(session: Session, cipher: FieldCipher, task_id: str) -> TaskView | None:
    """One task, its details opened."""
    t = session.get(Task, task_id)
    return None if t is None else opened(session, cipher, [t])[0]
