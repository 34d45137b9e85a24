"""Versions of clinical records amended through FHIR, clinician-authored documents, study descriptions.

``record_versions`` keeps every superseded version of an amended record (a radiology report, a
clinical note, a Composition) as it was, sealed under the patient's data key: an amendment never
rewrites the past, and the database refuses to update or delete a kept version. The record's own
row holds the current version, so every reader (task API, FHIR, the journeys' checks) sees it.

``clinical_documents`` holds Compositions written by clinicians and amended versions of the
discharge journey's summaries; ``imaging_study_descriptions`` an ImagingStudy's description.
Their text is sealed; ids, codes, statuses and labels stay in the clear for the policy and search.
"""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from activities.storage.models import Base


class RecordVersion(Base):
    """One superseded version of a record: its FHIR type and id, its number, its content (sealed JSON)."""

    __tablename__ = "record_versions"
    resource_type: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    resource_id: Mapped[str] = mapped_column(sa.String(90), primary_key=True)
    version: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[str] = mapped_column(sa.String(36), index=True)
    content: Mapped[bytes] = mapped_column(sa.LargeBinary)
    #: What replaced it, as codes (``amended``, ``corrected``, ``relabelled``, ``entered-in-error``…, comma-joined).
    change: Mapped[str] = mapped_column(sa.String(60))
    #: Who replaced this version, and when (the next version's author and time).
    superseded_by: Mapped[str] = mapped_column(sa.String(60))
    superseded_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())


class ClinicalDocument(Base):
    """A Composition: ``resource`` is the whole document, sealed; the rest is what policy and search need."""

    __tablename__ = "clinical_documents"
    id: Mapped[str] = mapped_column(sa.String(80), primary_key=True)
    patient_id: Mapped[str] = mapped_column(sa.String(36), index=True)
    encounter_id: Mapped[str | None] = mapped_column(sa.String(36), index=True)
    #: The LOINC document type (``Composition.type``).
    type_code: Mapped[str] = mapped_column(sa.String(20))
    status: Mapped[str] = mapped_column(sa.String(20))
    version: Mapped[int] = mapped_column(default=1)
    security: Mapped[list[str]] = mapped_column(ARRAY(sa.String(10)), server_default="{}")
    author_id: Mapped[str] = mapped_column(sa.String(60))
    resource: Mapped[bytes] = mapped_column(sa.LargeBinary)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())


class ImagingStudyDescription(Base):
    """The description of an imaging study (``ImagingStudy.description``), sealed."""

    __tablename__ = "imaging_study_descriptions"
    study_id: Mapped[str] = mapped_column(sa.String(90), primary_key=True)
    patient_id: Mapped[str] = mapped_column(sa.String(36), index=True)
    description: Mapped[bytes] = mapped_column(sa.LargeBinary)
    updated_by: Mapped[str] = mapped_column(sa.String(60))
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
