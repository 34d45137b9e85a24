"""Imaging tables (schema ``hms``): orders (ServiceRequest), studies (ImagingStudy), DICOM blobs and
reports (DiagnosticReport).

DICOM bytes live in ``imaging_blobs`` as ``bytea``, sealed under the patient's data key and
keyed by a per-patient keyed digest of the file (``activities.storage.imaging_blobs``): the store
is transactional and backed up with the rest of the record, an upload retried after a timeout
lands on the same row, and the bytes never travel through workflow history (only the id does).
"""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from activities.storage.models import Base


def _now() -> sa.ColumnElement[datetime]:
    return sa.func.now()


class ImagingOrder(Base):
    """A ServiceRequest for imaging; ``assigned_to`` is the radiologist who must report it."""

    __tablename__ = "imaging_orders"
    id: Mapped[str] = mapped_column(sa.String(80), primary_key=True)
    patient_id: Mapped[str] = mapped_column(sa.String(36), index=True)
    encounter_id: Mapped[str] = mapped_column(sa.String(36))
    journey_id: Mapped[str] = mapped_column(sa.String(80), index=True)
    workflow_id: Mapped[str] = mapped_column(sa.String(120))
    modality: Mapped[str] = mapped_column(sa.String(8))
    body_site: Mapped[str] = mapped_column(sa.String(64))
    priority: Mapped[str] = mapped_column(sa.String(16))
    reason_code: Mapped[str] = mapped_column(sa.String(64))
    requested_by: Mapped[str] = mapped_column(sa.String(60))
    assigned_to: Mapped[str | None] = mapped_column(sa.String(60), index=True)
    #: active → completed | revoked (FHIR ServiceRequest.status).
    status: Mapped[str] = mapped_column(sa.String(20), default="active")
    sla_breaches: Mapped[int] = mapped_column(default=0)
    last_breach_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=_now())


class ImagingBlob(Base):
    """A patient's DICOM file, sealed (``data``); ``id`` is HMAC(patient's key, file SHA-256), one row per
    patient and file. Read and write it only through ``activities.storage.imaging_blobs``."""

    __tablename__ = "imaging_blobs"
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    patient_id: Mapped[str] = mapped_column(sa.String(36), index=True)
    size_bytes: Mapped[int] = mapped_column(sa.BigInteger)
    data: Mapped[bytes] = mapped_column(sa.LargeBinary)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=_now())


class ImagingStudy(Base):
    """One study per order, with the AI pre-screen result (decision support) once scored."""

    __tablename__ = "imaging_studies"
    id: Mapped[str] = mapped_column(sa.String(90), primary_key=True)
    order_id: Mapped[str] = mapped_column(sa.ForeignKey("imaging_orders.id"), unique=True)
    patient_id: Mapped[str] = mapped_column(sa.String(36), index=True)
    #: The stored blob's id (``imaging_blobs.id``, a keyed digest since 0901; the name predates it).
    sha256: Mapped[str | None] = mapped_column(sa.ForeignKey("imaging_blobs.id"))
    reference: Mapped[str | None] = mapped_column(sa.String(500))
    size_bytes: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    modality: Mapped[str | None] = mapped_column(sa.String(8))
    received_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=_now())
    ai_status: Mapped[str] = mapped_column(sa.String(20), default="pending")
    ai_score: Mapped[float | None] = mapped_column(sa.Float)
    ai_flagged: Mapped[bool | None] = mapped_column()
    ai_threshold: Mapped[float | None] = mapped_column(sa.Float)
    ai_model_version: Mapped[str | None] = mapped_column(sa.String(80))
    ai_scored_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))


class DiagnosticReport(Base):
    """The radiologist's report; ``ai_flagged`` keeps what the pre-screen said, for concordance audits."""

    __tablename__ = "diagnostic_reports"
    id: Mapped[str] = mapped_column(sa.String(90), primary_key=True)
    order_id: Mapped[str] = mapped_column(sa.ForeignKey("imaging_orders.id"), unique=True)
    study_id: Mapped[str] = mapped_column(sa.ForeignKey("imaging_studies.id"))
    patient_id: Mapped[str] = mapped_column(sa.String(36), index=True)
    status: Mapped[str] = mapped_column(sa.String(20), default="final")
    findings_code: Mapped[str] = mapped_column(sa.String(64))
    #: The radiologist's text, sealed under the patient's data key (``imaging_reports.report_text``).
    impression: Mapped[bytes] = mapped_column(sa.LargeBinary)
    conclusion: Mapped[bytes] = mapped_column(sa.LargeBinary)
    abnormal: Mapped[bool] = mapped_column()
    ai_flagged: Mapped[bool | None] = mapped_column()
    issued_by: Mapped[str] = mapped_column(sa.String(60))
    issued_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
