"""Per-patient data keys (wrapped) and legal retention holds.

A patient's data key encrypts every encrypted field of their record; only its wrapped
form is stored, with the id of the key-encryption key that wrapped it. Erasure
(crypto-shredding) deletes the wrapped key and records when and by which erasure.
"""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from activities.storage.models import Base


class PatientKey(Base):
    __tablename__ = "patient_keys"
    __table_args__ = (
        sa.CheckConstraint("(wrapped_dek IS NULL) = (shredded_at IS NOT NULL)", name="wrapped_unless_shredded"),
        sa.Index("ix_hms_patient_keys_kek_id", "kek_id"),
    )
    patient_id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    #: The key-encryption key that wrapped the data key (None once shredded).
    kek_id: Mapped[str | None] = mapped_column(sa.String(80))
    wrapped_dek: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    rewrapped_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    shredded_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    #: The erasure workflow that shredded the key.
    erasure_id: Mapped[str | None] = mapped_column(sa.String(120))


class LegalHold(Base):
    """A legal retention hold: while one is active the patient's record must not be erased."""

    __tablename__ = "legal_holds"
    __table_args__ = (
        sa.Index("ix_hms_legal_holds_active", "patient_id", postgresql_where=sa.text("released_at IS NULL")),
    )
    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    patient_id: Mapped[str] = mapped_column(sa.String(36), index=True)
    #: The legal basis (e.g. a case reference or statute), sealed under the patient's data key
    #: (``erasure_repo.hold_reasons``): a case reference can identify the patient.
    reason: Mapped[bytes] = mapped_column(sa.LargeBinary)
    placed_by: Mapped[str] = mapped_column(sa.String(60))
    placed_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    released_by: Mapped[str | None] = mapped_column(sa.String(60))
    released_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
