"""Observations (schema ``hms``): lab results and other measurements, one row per FHIR Observation.

The FHIR resource itself (values, codes, notes) is stored AES-256-GCM under the patient's
data key; only what search needs sits beside it in the clear: the patient and encounter
ids, status, category and code tokens, the effective time and the security labels. An
identifier (``system|value``, e.g. a lab accession) is kept as a keyed blind index so a
resent result finds the row it already wrote.
"""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from activities.storage.models import Base


class Observation(Base):
    __tablename__ = "observations"
    __table_args__ = (
        sa.UniqueConstraint("identifier_index", name="uq_observations_identifier_index"),
        sa.Index("ix_hms_observations_patient_effective", "patient_id", "effective_at"),
    )
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    patient_id: Mapped[str] = mapped_column(sa.ForeignKey("patients.id"))
    encounter_id: Mapped[str | None] = mapped_column(sa.String(36), index=True)
    #: HMAC of the first identifier (system, value) under the blind-index key; NULL when none was given.
    identifier_index: Mapped[bytes | None] = mapped_column(sa.LargeBinary(32))
    status: Mapped[str] = mapped_column(sa.String(20))
    #: ``system|code`` tokens, so ``category=`` and ``code=`` search without decrypting.
    categories: Mapped[list[str]] = mapped_column(ARRAY(sa.String(300)), server_default="{}")
    codes: Mapped[list[str]] = mapped_column(ARRAY(sa.String(300)), server_default="{}")
    effective_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    #: HL7 v3 confidentiality/sensitivity codes (FHIR ``meta.security``).
    security: Mapped[list[str]] = mapped_column(ARRAY(sa.String(10)), server_default="{}")
    #: The resource as JSON (without id and meta), encrypted under the patient's data key.
    body: Mapped[bytes] = mapped_column(sa.LargeBinary)
    version: Mapped[int] = mapped_column(sa.Integer, server_default="1")
    recorded_by: Mapped[str | None] = mapped_column(sa.String(60))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
