"""Billing and discharge tables: charges, invoices, claims, discharge summaries, bed cleaning.

Charges carry a unique idempotency key so a retried or replayed activity never
charges twice; invoices and claims keep both exact totals (NUMERIC) and the FHIR
resource they were issued as.

Nothing here is sealed under the patients' data keys, deliberately: a charge's code and
description come from the tariff (``activities/billing_tariff.json``: services such as
"Plain radiograph, per study", the same text for every patient, never a diagnosis), and the
invoice, claim and discharge-summary resources are built from ids, codes, statuses and amounts
only (``billing_fhir``, ``discharge_fhir``), so totals and the operations views aggregate them
without any key. A field that carries diagnosis text would have to be sealed like the others.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from activities.storage.models import Base

MONEY = sa.Numeric(14, 2)


def _now() -> sa.ColumnElement[datetime]:
    return sa.func.now()


class ChargeItem(Base):
    __tablename__ = "charge_items"
    id: Mapped[str] = mapped_column(sa.String(60), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(sa.String(200), unique=True)
    encounter_id: Mapped[str] = mapped_column(sa.String(36), index=True)
    patient_id: Mapped[str] = mapped_column(sa.String(36), index=True)
    journey_id: Mapped[str] = mapped_column(sa.String(80))
    code: Mapped[str] = mapped_column(sa.String(40))
    description: Mapped[str] = mapped_column(sa.String(200))
    quantity: Mapped[int] = mapped_column(sa.Integer)
    unit_price: Mapped[Decimal] = mapped_column(MONEY)
    amount: Mapped[Decimal] = mapped_column(MONEY)
    currency: Mapped[str] = mapped_column(sa.String(3))
    source: Mapped[str] = mapped_column(sa.String(40))
    source_id: Mapped[str] = mapped_column(sa.String(120))
    occurred_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=_now())
    #: The one invoice the charge is billed on; fixed once set (trigger ``charge_items_billed_fixed``, 0906).
    invoice_id: Mapped[str | None] = mapped_column(sa.ForeignKey("invoices.id"), index=True)
    #: Set when the charge was entered in error: kept, never invoiced (check ``reversed_not_invoiced``).
    reversed_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    reversed_by: Mapped[str | None] = mapped_column(sa.String(60))


class Invoice(Base):
    __tablename__ = "invoices"
    __table_args__ = (
        # The billing journey issues one stay invoice; later charges go on supplementary ones.
        sa.Index("uq_invoices_one_stay_invoice", "encounter_id", unique=True,
                 postgresql_where=sa.text("kind = 'stay'")),
    )
    id: Mapped[str] = mapped_column(sa.String(80), primary_key=True)
    encounter_id: Mapped[str] = mapped_column(sa.String(36), index=True)
    #: ``stay`` (issued at discharge) or ``supplementary`` (late charges, or issued by a billing clerk).
    kind: Mapped[str] = mapped_column(sa.String(20), server_default="stay")
    patient_id: Mapped[str] = mapped_column(sa.String(36), index=True)
    journey_id: Mapped[str] = mapped_column(sa.String(80))
    status: Mapped[str] = mapped_column(sa.String(20))
    currency: Mapped[str] = mapped_column(sa.String(3))
    total: Mapped[Decimal] = mapped_column(MONEY)
    paid_amount: Mapped[Decimal | None] = mapped_column(MONEY)
    resource: Mapped[dict] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))


class Claim(Base):
    __tablename__ = "claims"
    __table_args__ = (
        # One active claim per invoice; a withdrawn (cancelled) one may be followed by another.
        sa.Index("uq_claims_one_active_per_invoice", "invoice_id", unique=True,
                 postgresql_where=sa.text("status = 'active'")),
    )
    id: Mapped[str] = mapped_column(sa.String(80), primary_key=True)
    invoice_id: Mapped[str] = mapped_column(sa.ForeignKey("invoices.id"), index=True)
    encounter_id: Mapped[str] = mapped_column(sa.String(36), index=True)
    patient_id: Mapped[str] = mapped_column(sa.String(36), index=True)
    status: Mapped[str] = mapped_column(sa.String(20))
    #: queued until settled, then ``paid`` or ``denied``; ``withdrawn`` (the claim alone) or ``cancelled``
    #: (with its invoice) when it was taken back before adjudication (``status`` is then ``cancelled``).
    outcome: Mapped[str] = mapped_column(sa.String(20), default="queued")
    payer: Mapped[str] = mapped_column(sa.String(80))
    currency: Mapped[str] = mapped_column(sa.String(3))
    total: Mapped[Decimal] = mapped_column(MONEY)
    paid_amount: Mapped[Decimal | None] = mapped_column(MONEY)
    denial_reason: Mapped[str | None] = mapped_column(sa.String(200))
    settled_by: Mapped[str | None] = mapped_column(sa.String(60))
    settled_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    resource: Mapped[dict] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))


class DischargeSummary(Base):
    """The discharge summary of a stay, stored as the FHIR Composition it was generated as."""

    __tablename__ = "discharge_summaries"
    id: Mapped[str] = mapped_column(sa.String(80), primary_key=True)
    encounter_id: Mapped[str] = mapped_column(sa.String(36), unique=True)
    journey_id: Mapped[str] = mapped_column(sa.String(80), index=True)
    patient_id: Mapped[str] = mapped_column(sa.String(36), index=True)
    security: Mapped[list] = mapped_column(JSONB, default=list)
    resource: Mapped[dict] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))


class BedCleaning(Base):
    """A bed between two patients: held by the leaving stay until a nurse has cleaned it."""

    __tablename__ = "bed_cleanings"
    bed_id: Mapped[str] = mapped_column(sa.String(60), primary_key=True)
    encounter_id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    status: Mapped[str] = mapped_column(sa.String(20))
    started_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    completed_by: Mapped[str | None] = mapped_column(sa.String(60))
