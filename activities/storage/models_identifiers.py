"""Business identifiers of resources created over FHIR (schema ``hms``, migration 0902).

A placer's order number, a document's or a charge's identifier can be linked to a patient, so
the element is sealed under the patient's data key (associated data naming the row); lookups
go through keyed blind indexes: (type, system, value) for ``system|value`` and ``|value``
searches, (type, value) for a bare value.
"""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from activities.storage.models import Base


class ResourceIdentifier(Base):
    """One ``identifier`` element of one resource (``position`` keeps the order they came in)."""

    __tablename__ = "resource_identifiers"
    __table_args__ = (
        sa.Index("ix_resource_identifiers_system_index", "resource_type", "system_index"),
        sa.Index("ix_resource_identifiers_value_index", "resource_type", "value_index"),
        sa.Index("ix_resource_identifiers_patient_id", "patient_id"),
    )
    resource_type: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    resource_id: Mapped[str] = mapped_column(sa.String(120), primary_key=True)
    position: Mapped[int] = mapped_column(sa.SmallInteger, primary_key=True)
    patient_id: Mapped[str] = mapped_column(sa.String(36))
    #: The identifier element (JSON: system, value, type, use…), sealed under the patient's data key.
    element: Mapped[bytes] = mapped_column(sa.LargeBinary)
    system_index: Mapped[bytes] = mapped_column(sa.LargeBinary(32))
    value_index: Mapped[bytes] = mapped_column(sa.LargeBinary(32))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
