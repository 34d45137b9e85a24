"""Reading and writing the event stream's source table (``hms.events``).

Triggers write most events (migrations 0711/0712); ``emit`` is for a change no trigger
sees (an activity that records a journey stage only in workflow state, for instance).
It goes through the same SQL function as the triggers, so the row and its
``pg_notify`` commit or roll back with the caller's transaction.
"""
from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from activities.storage.models_events import EVENT_KINDS, Event

#: The most events a catch-up returns at once; a client further behind pages with the last id it got.
MAX_BATCH = 500


def emit(session: Session, *, patient_id: str, kind: str, ref: str, ward: str | None = None,
         once: bool = False) -> int | None:
    """Record one event in the caller's transaction and return its id (identifiers only, never values).

    ``once``: an activity retried after its commit must not announce the same change twice —
    with a ``ref`` unique to the change (e.g. ``"<stage workflow id>:completed"``) the second
    call finds the first event and returns None.
    """
    if kind not in EVENT_KINDS:
        raise ValueError(f"unknown event kind {kind!r}; one of {', '.join(EVENT_KINDS)}")
    if once and session.scalar(sa.select(Event.id).where(Event.patient_id == patient_id, Event.kind == kind,
                                                         Event.ref == ref).limit(1)) is not None:
        return None
    return int(session.execute(sa.text("SELECT hms.emit_event(:p, :w, :k, :r)"),
                               {"p": patient_id, "w": ward, "k": kind, "r": ref}).scalar_one())


def since(session: Session, last_id: int, *, patient_id: str | None = None, ward: str | None = None,
          upto: int | None = None, limit: int = MAX_BATCH) -> list[Event]:
    """Events after ``last_id`` (and up to ``upto``) for one patient or one ward (exactly one), oldest first."""
    if (patient_id is None) == (ward is None):
        raise ValueError("exactly one of patient_id or ward")
    query = sa.select(Event).where(Event.id > last_id)
    if upto is not None:
        query = query.where(Event.id <= upto)
    query = query.where(Event.patient_id == patient_id) if patient_id is not None else query.where(Event.ward == ward)
    return list(session.scalars(query.order_by(Event.id).limit(limit)))


def by_ids(session: Session, ids: list[int]) -> list[Event]:
    """The events with these ids (those that exist), oldest first: what a notification names."""
    if not ids:
        return []
    return list(session.scalars(sa.select(Event).where(Event.id.in_(ids)).order_by(Event.id)))


def after(session: Session, last_id: int, limit: int = MAX_BATCH) -> list[Event]:
    """Every event after ``last_id``: what a listener missed while its connection was down."""
    return list(session.scalars(sa.select(Event).where(Event.id > last_id).order_by(Event.id).limit(limit)))


def between(session: Session, low: int, high: int) -> list[Event]:
    """Every event with ``low <= id <= high``, oldest first (the ids a gap in the sequence may hold)."""
    return list(session.scalars(sa.select(Event).where(Event.id >= low, Event.id <= high).order_by(Event.id)))


#: Transactions that have written an event and not ended hold this lock on the table until they do.
_WRITERS = ("SELECT virtualtransaction FROM pg_locks WHERE locktype = 'relation' AND mode = 'RowExclusiveLock' "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND relation = 'hms.events'::regclass AND pid <> pg_backend_pid()")


def writers_in_flight(session: Session) -> list[str]:
    """The (virtual) transactions that may still commit an event: those holding a write lock on the table.

    Ids come from a sequence when the row is inserted, so a transaction can commit a lower id
    after another committed a higher one; until these transactions end, a gap below the newest
    committed id may still fill.
    """
    return list(session.scalars(sa.text(_WRITERS)))


def still_in_flight(session: Session, writers: list[str]) -> bool:
    """Whether any of these transactions is still running."""
    if not writers:
        return False
    return bool(session.scalar(sa.text(f"SELECT EXISTS ({_WRITERS} AND virtualtransaction = ANY(:w))"),
                               {"w": writers}))


def latest_id(session: Session) -> int:
    """The newest event id (0 when there is none)."""
    return int(session.scalar(sa.select(sa.func.coalesce(sa.func.max(Event.id), 0))) or 0)


def purge(session: Session, *, older_than: timedelta, now: datetime | None = None) -> int:
    """Delete events older than the retention period; returns how many went.

    Events are pointers, not records: purging them loses no clinical data, only how far
    back a reconnecting client can resume.
    """
    cutoff = (now or datetime.now().astimezone()) - older_than
    result = session.execute(sa.delete(Event).where(Event.occurred_at < cutoff))
    return int(result.rowcount or 0)
