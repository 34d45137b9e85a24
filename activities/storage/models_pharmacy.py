"""Pharmacy tables (schema ``hms``): orders, stock with its movements, the MAR, allergies.

Stock changes only through ``medication_stock_movements``, whose primary key is the
idempotency key of the dispense or return: a retried activity cannot move stock twice.
"""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from activities.storage.models import Base


def _now() -> sa.ColumnElement[datetime]:
    return sa.func.now()


class MedicationOrder(Base):
    """A MedicationRequest and where it stands (pending-verification → … → completed/cancelled/rejected)."""

    __tablename__ = "medication_orders"
    id: Mapped[str] = mapped_column(sa.String(60), primary_key=True)
    patient_id: Mapped[str] = mapped_column(sa.ForeignKey("patients.id"), index=True)
    encounter_id: Mapped[str] = mapped_column(sa.ForeignKey("encounters.id"))
    journey_id: Mapped[str] = mapped_column(sa.String(80), index=True)
    workflow_id: Mapped[str] = mapped_column(sa.String(120))
    drug_code: Mapped[str] = mapped_column(sa.String(12))
    dose: Mapped[float] = mapped_column(sa.Float)
    unit: Mapped[str] = mapped_column(sa.String(10))
    route: Mapped[str] = mapped_column(sa.String(10))
    frequency_hours: Mapped[int] = mapped_column(sa.Integer)
    doses: Mapped[int] = mapped_column(sa.Integer)
    units_per_dose: Mapped[int] = mapped_column(sa.Integer, default=1)
    status: Mapped[str] = mapped_column(sa.String(30))
    #: Safety findings (JSON), sealed under the patient's data key (``pharmacy_text``), as are the reasons below.
    hits: Mapped[bytes] = mapped_column(sa.LargeBinary)
    ordered_by: Mapped[str] = mapped_column(sa.String(60))
    verified_by: Mapped[str | None] = mapped_column(sa.String(60))
    status_reason: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    first_dose_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=_now())
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=_now())


class MedicationStock(Base):
    """On-hand quantity of a formulary drug, in its dispensing unit (tablets, vials, …)."""

    __tablename__ = "medication_stock"
    __table_args__ = (sa.CheckConstraint("on_hand >= 0", name="on_hand_not_negative"),)
    drug_code: Mapped[str] = mapped_column(sa.String(12), primary_key=True)
    on_hand: Mapped[int] = mapped_column(sa.Integer)
    dispense_unit: Mapped[str] = mapped_column(sa.String(20))


class StockMovement(Base):
    """One dispense (negative) or return (positive), keyed by its idempotency key."""

    __tablename__ = "medication_stock_movements"
    idempotency_key: Mapped[str] = mapped_column(sa.String(120), primary_key=True)
    drug_code: Mapped[str] = mapped_column(sa.String(12), index=True)
    order_id: Mapped[str] = mapped_column(sa.String(60), index=True)
    kind: Mapped[str] = mapped_column(sa.String(10))
    quantity: Mapped[int] = mapped_column(sa.Integer)
    at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=_now())


class MedicationAdministration(Base):
    """One eMAR entry: a scheduled dose given, held, refused or missed (possibly later marked entered in error)."""

    __tablename__ = "medication_administrations"
    id: Mapped[str] = mapped_column(sa.String(120), primary_key=True)
    order_id: Mapped[str] = mapped_column(sa.ForeignKey("medication_orders.id"), index=True)
    patient_id: Mapped[str] = mapped_column(sa.String(36), index=True)
    dose_number: Mapped[int] = mapped_column(sa.Integer)
    due: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    status: Mapped[str] = mapped_column(sa.String(10))
    reason: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    recorded_by: Mapped[str] = mapped_column(sa.String(60))
    recorded_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    #: A correction (FHIR ``entered-in-error``): who nullified the record and when; the row stays as recorded.
    entered_in_error_by: Mapped[str | None] = mapped_column(sa.String(60))
    entered_in_error_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))


class AllergyIntolerance(Base):
    """A recorded allergy: an RxNorm ingredient code or a formulary drug class."""

    __tablename__ = "allergy_intolerances"
    id: Mapped[str] = mapped_column(sa.String(60), primary_key=True)
    patient_id: Mapped[str] = mapped_column(sa.ForeignKey("patients.id"), index=True)
    code: Mapped[str] = mapped_column(sa.String(60))
    is_class: Mapped[bool] = mapped_column(default=False)
    criticality: Mapped[str] = mapped_column(sa.String(20), default="unable-to-assess")
    reaction: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    status: Mapped[str] = mapped_column(sa.String(20), default="active")
    recorded_by: Mapped[str] = mapped_column(sa.String(60))
    recorded_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=_now())
