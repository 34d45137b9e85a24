"""Repository functions of the pharmacy: every write is idempotent under activity retries.

Stock moves only by inserting a movement whose primary key is the idempotency key;
the stock row changes in the same transaction, and only when the insert happened.
The order row is locked first, so a dispense and a cancellation never interleave.
"""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from activities.crypto.fields import FieldCipher
from activities.storage import pharmacy_text
from activities.storage.models_pharmacy import (
    AllergyIntolerance,
    MedicationAdministration,
    MedicationOrder,
    MedicationStock,
    StockMovement,
)

#: Orders that still count as the patient's current medication for interaction checks.
ACTIVE_ORDER_STATES = ("pending-verification", "verified", "dispensed", "active")
CLOSED_ORDER_STATES = ("completed", "cancelled", "rejected")


class InsufficientStock(Exception):
    def __init__(self, drug_code: str, needed: int, on_hand: int) -> None:
        super().__init__(f"insufficient stock of {drug_code}: {needed} needed, {on_hand} on hand")
        self.drug_code, self.needed, self.on_hand = drug_code, needed, on_hand


class OrderClosed(Exception):
    """The order was cancelled, rejected or completed: nothing more may be dispensed for it."""


def create_order(session: Session, values: dict[str, Any], cipher: FieldCipher | None = None) -> None:
    """Insert the order (its findings sealed); ``cipher`` None: the ephemeral keys (tests only), as below."""
    values = pharmacy_text.seal_order(session, cipher, values["id"], values["patient_id"], values)
    session.execute(insert(MedicationOrder).values(**values).on_conflict_do_nothing(index_elements=["id"]))


def active_drug_codes(session: Session, patient_id: str, exclude_order: str) -> list[str]:
    return list(session.scalars(
        sa.select(MedicationOrder.drug_code).where(
            MedicationOrder.patient_id == patient_id, MedicationOrder.id != exclude_order,
            MedicationOrder.status.in_(ACTIVE_ORDER_STATES))))


def active_allergies(session: Session, patient_id: str) -> list[AllergyIntolerance]:
    return list(session.scalars(
        sa.select(AllergyIntolerance).where(AllergyIntolerance.patient_id == patient_id,
                                            AllergyIntolerance.status == "active")
        .order_by(AllergyIntolerance.recorded_at)))


def set_order(session: Session, order_id: str, cipher: FieldCipher | None = None, **values: Any) -> None:
    """Update an open order (a closed one keeps its final state under a late retry)."""
    if "hits" in values or values.get("status_reason") is not None:
        patient_id = session.scalar(sa.select(MedicationOrder.patient_id).where(MedicationOrder.id == order_id))
        if patient_id is None:
            return
        values = pharmacy_text.seal_order(session, cipher, order_id, patient_id, values)
    session.execute(sa.update(MedicationOrder)
                    .where(MedicationOrder.id == order_id, MedicationOrder.status.not_in(CLOSED_ORDER_STATES))
                    .values(updated_at=sa.func.now(), **values))


def _lock_order(session: Session, order_id: str) -> MedicationOrder:
    order = session.scalar(sa.select(MedicationOrder).where(MedicationOrder.id == order_id).with_for_update())
    if order is None:
        raise LookupError(f"order {order_id} not found")
    return order


def dispense(session: Session, order_id: str, drug_code: str, quantity: int, key: str) -> bool:
    """Take ``quantity`` from stock once per ``key``; False when that key had already dispensed."""
    order = _lock_order(session, order_id)
    if session.get(StockMovement, key) is not None:
        return False
    if order.status in CLOSED_ORDER_STATES:
        raise OrderClosed(f"order {order_id} is {order.status}")
    taken = session.execute(
        sa.update(MedicationStock).where(MedicationStock.drug_code == drug_code, MedicationStock.on_hand >= quantity)
        .values(on_hand=MedicationStock.on_hand - quantity).returning(MedicationStock.on_hand)).scalar()
    if taken is None:
        on_hand = session.scalar(sa.select(MedicationStock.on_hand).where(MedicationStock.drug_code == drug_code))
        raise InsufficientStock(drug_code, quantity, on_hand or 0)
    session.add(StockMovement(idempotency_key=key, drug_code=drug_code, order_id=order_id, kind="dispense",
                              quantity=-quantity))
    order.status, order.updated_at = "dispensed", sa.func.now()
    return True


def close_order(session: Session, order_id: str, status: str, key: str, reason: str | None,
                cipher: FieldCipher | None = None) -> int:
    """Close the order and return to stock what was dispensed but not given, once per ``key``.

    An order never stored (the stage was cancelled before its first write) has nothing to return.
    """
    order = session.scalar(sa.select(MedicationOrder).where(MedicationOrder.id == order_id).with_for_update())
    if order is None:
        return 0
    if order.status not in CLOSED_ORDER_STATES:
        sealed_reason = pharmacy_text.seal_order(session, cipher, order_id, order.patient_id,
                                                 {"status_reason": reason})["status_reason"]
        order.status, order.status_reason, order.updated_at = status, sealed_reason, sa.func.now()
    done = session.get(StockMovement, key)
    if done is not None:
        return done.quantity
    dispensed = -int(session.scalar(sa.select(sa.func.coalesce(sa.func.sum(StockMovement.quantity), 0)).where(
        StockMovement.order_id == order_id, StockMovement.kind == "dispense")) or 0)
    given = int(session.scalar(sa.select(sa.func.count()).select_from(MedicationAdministration).where(
        MedicationAdministration.order_id == order_id, MedicationAdministration.status == "given")) or 0)
    unused = max(0, dispensed - given * order.units_per_dose)
    if unused == 0:
        return 0
    session.add(StockMovement(idempotency_key=key, drug_code=order.drug_code, order_id=order_id, kind="return",
                              quantity=unused))
    session.execute(sa.update(MedicationStock).where(MedicationStock.drug_code == order.drug_code)
                    .values(on_hand=MedicationStock.on_hand + unused))
    return unused


def record_administration(session: Session, values: dict[str, Any], cipher: FieldCipher | None = None) -> bool:
    """Record one eMAR entry, its reason sealed; the first record of a dose wins (a retry changes nothing)."""
    values = pharmacy_text.seal_row(session, cipher, pharmacy_text.ADMINISTRATIONS, "reason", values)
    inserted = session.execute(insert(MedicationAdministration).values(**values)
                               .on_conflict_do_nothing(index_elements=["id"])
                               .returning(MedicationAdministration.id)).scalar()
    return inserted is not None


def add_allergy(session: Session, values: dict[str, Any], cipher: FieldCipher | None = None) -> bool:
    """Record an allergy (the code in the clear for the order checks, the reaction sealed)."""
    values = pharmacy_text.seal_row(session, cipher, pharmacy_text.ALLERGIES, "reaction", values)
    inserted = session.execute(insert(AllergyIntolerance).values(**values)
                               .on_conflict_do_nothing(index_elements=["id"]).returning(AllergyIntolerance.id)).scalar()
    return inserted is not None


def orders_of_patient(session: Session, patient_id: str) -> list[MedicationOrder]:
    return list(session.scalars(sa.select(MedicationOrder).where(MedicationOrder.patient_id == patient_id)
                                .order_by(MedicationOrder.created_at)))


def administrations_of_patient(session: Session, patient_id: str) -> list[MedicationAdministration]:
    return list(session.scalars(sa.select(MedicationAdministration)
                                .where(MedicationAdministration.patient_id == patient_id)
                                .order_by(MedicationAdministration.due)))


def get_order(session: Session, order_id: str) -> MedicationOrder | None:
    return session.get(MedicationOrder, order_id)


def stock_on_hand(session: Session, drug_code: str) -> int | None:
    return session.scalar(sa.select(MedicationStock.on_hand).where(MedicationStock.drug_code == drug_code))


def pharmacist_worklist(session: Session, limit: int = 200) -> list[tuple[Any, MedicationOrder]]:
    """Open pharmacist tasks with their orders, oldest due first (the verification queue)."""
    from activities.storage.models import Task

    rows = session.execute(
        sa.select(Task, MedicationOrder).join(MedicationOrder, MedicationOrder.workflow_id == Task.workflow_id)
        .where(Task.role == "pharmacist", Task.status == "open")
        .order_by(Task.due.asc().nulls_last(), Task.created_at).limit(limit)).all()
    return [(t, o) for t, o in rows]
