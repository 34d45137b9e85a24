"""Problem list and diagnoses (schema ``hms``): one row per FHIR Condition recorded by clinicians.

The clinical content (the code with its display and text, onset, abatement, notes…) is the
resource sealed under the patient's data key (``condition_repo``); only what search and the
policy need sits in the clear: patient and stay, category, clinical and verification status,
the security labels, who recorded it and when, and a version counter for ``If-Match``. An
identifier is kept as a keyed blind index, so a resent condition finds the row it wrote.
"""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from activities.storage.models import Base


class ConditionRecord(Base):
    __tablename__ = "conditions"
    __table_args__ = (
        sa.UniqueConstraint("identifier_index", name="uq_conditions_identifier_index"),
        sa.Index("ix_hms_conditions_patient_recorded", "patient_id", "recorded_at"),
    )
    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    patient_id: Mapped[str] = mapped_column(sa.ForeignKey("patients.id"))
    encounter_id: Mapped[str | None] = mapped_column(sa.ForeignKey("encounters.id"), index=True)
    #: HMAC of the first identifier (system, value) under the blind-index key; NULL when none was given.
    identifier_index: Mapped[bytes | None] = mapped_column(sa.LargeBinary(32))
    #: ``problem-list-item`` or ``encounter-diagnosis`` (condition-category).
    category: Mapped[str] = mapped_column(sa.String(30))
    clinical_status: Mapped[str | None] = mapped_column(sa.String(20))
    verification_status: Mapped[str | None] = mapped_column(sa.String(20))
    #: HL7 v3 confidentiality/sensitivity codes (FHIR ``meta.security``), e.g. ``HIV``.
    security: Mapped[list[str]] = mapped_column(ARRAY(sa.String(10)), server_default="{}")
    #: The resource as JSON (without id, meta, subject and the columns above), sealed per patient.
    body: Mapped[bytes] = mapped_column(sa.LargeBinary)
    version: Mapped[int] = mapped_column(sa.Integer, server_default="1")
    recorded_by: Mapped[str] = mapped_column(sa.String(60))
    recorded_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
