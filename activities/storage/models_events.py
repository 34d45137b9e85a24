"""The event stream's source table (schema ``hms``): one row per clinical change worth pushing.

Rows carry identifiers only (patient, ward, kind, the changed row's id); the clinical
values stay in their own (encrypted) stores and are read through the authorised read
path when an event is pushed. Rows are written by database triggers in the same
transaction as the change they describe (migrations 0711/0712), or explicitly through
``events_repo.emit``; each insert notifies channel ``hms_events`` with the row id.
"""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from activities.storage.models import Base

#: The kinds of event the streams carry (the cross-helper contract).
EVENT_KINDS = ("vitals", "result", "task", "stage")

#: The PostgreSQL NOTIFY channel; the payload is the event id.
CHANNEL = "hms_events"


class Event(Base):
    """A change to a patient's vitals, results, tasks or stage, in commit-visible id order."""

    __tablename__ = "events"
    __table_args__ = (
        sa.Index("ix_events_patient_id_id", "patient_id", "id"),
        sa.Index("ix_events_ward_id", "ward", "id"),
        sa.Index("ix_events_occurred_at", "occurred_at"),
    )
    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=True)  # bigserial
    patient_id: Mapped[str] = mapped_column(sa.String(36))
    ward: Mapped[str | None] = mapped_column(sa.String(40))
    kind: Mapped[str] = mapped_column(sa.String(20))
    ref: Mapped[str] = mapped_column(sa.String(120))
    occurred_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
