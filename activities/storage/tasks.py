"""The task inbox: a projection of the human tasks the journeys hold open.

Workflows are the source of truth; they write here through idempotent
activities so the inbox can be filtered by role, ward and patient cheaply.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from activities.storage.models import Task


def upsert_task(session: Session, values: dict[str, Any]) -> None:
    """Insert or refresh a task row; a closed task is never reopened by a late retry."""
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
