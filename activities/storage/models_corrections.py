"""Patients' requests to correct their demographics (DPDP Act: the right to correction).

The proposed value, the patient's comment and the clerk's reason are kept here, with
the request, encrypted under the patient's data key like the demographics they concern
(so an erasure shreds them too). The ledger never sees them; the workflow that carries
the request to registration holds ids and codes (the clerk's reason passes only through
its codec-encrypted history). An accepted request is applied by the clerk through
normal registration, never automatically.
"""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from activities.storage.models import Base


class CorrectionRequest(Base):
    __tablename__ = "correction_requests"
    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    patient_id: Mapped[str] = mapped_column(sa.String(36), index=True)
    #: The demographic field to correct (a code: ``given``, ``family``, ``birth_date`` …).
    field: Mapped[str] = mapped_column(sa.String(40))
    proposed_value: Mapped[bytes] = mapped_column(sa.LargeBinary)
    comment: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    requested_by: Mapped[str] = mapped_column(sa.String(60))
    requested_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    status: Mapped[str] = mapped_column(sa.String(20), server_default="open")  # open → accepted | rejected
    decided_by: Mapped[str | None] = mapped_column(sa.String(60))
    decided_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    decision_reason: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    workflow_id: Mapped[str] = mapped_column(sa.String(120))
