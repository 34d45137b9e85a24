"""Clinical notes (with HL7 sensitivity labels) and break-glass grants with their review."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from activities.storage.models import Base


class ClinicalNote(Base):
    __tablename__ = "clinical_notes"
    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    patient_id: Mapped[str] = mapped_column(sa.String(36), index=True)
    encounter_id: Mapped[str | None] = mapped_column(sa.String(36))
    author_id: Mapped[str] = mapped_column(sa.String(60))
    #: AES-256-GCM under the patient's data key (``security_repo.note_text`` decrypts).
    text: Mapped[bytes] = mapped_column(sa.LargeBinary)
    #: HL7 v3 confidentiality/sensitivity codes (FHIR ``meta.security``), e.g. ``PSY``.
    security: Mapped[list[str]] = mapped_column(ARRAY(sa.String(10)), server_default="{}")
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    #: ``current`` or ``entered-in-error`` (FHIR DocumentReference.status); amendments keep the replaced text
    #: in ``record_versions`` (``api.fhir.resources.note_updates``).
    status: Mapped[str] = mapped_column(sa.String(20), server_default="current")


class BreakGlassGrant(Base):
    """Time-limited emergency access of one user to one patient; reviewed by compliance afterwards."""

    __tablename__ = "break_glass_grants"
    __table_args__ = (sa.Index("ix_hms_break_glass_grants_holder", "user_id", "patient_id"),)
    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    patient_id: Mapped[str] = mapped_column(sa.String(36))
    user_id: Mapped[str] = mapped_column(sa.String(60))
    role: Mapped[str] = mapped_column(sa.String(40))
    #: Why the holder opened the record: sealed under the patient's data key (``security_repo.grant_reasons``).
    reason: Mapped[bytes] = mapped_column(sa.LargeBinary)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    revoked_by: Mapped[str | None] = mapped_column(sa.String(60))
    review_status: Mapped[str] = mapped_column(sa.String(20), server_default="pending")
    reviewed_by: Mapped[str | None] = mapped_column(sa.String(60))
    reviewed_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    review_outcome: Mapped[str | None] = mapped_column(sa.String(20))
    #: The compliance reviewer's comment, sealed like the reason.
    review_comment: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    workflow_id: Mapped[str] = mapped_column(sa.String(120))
