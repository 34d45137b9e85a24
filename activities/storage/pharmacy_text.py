"""The pharmacy's clinical text, sealed under the patient's data key.

Sealed: an order's safety findings (``hits``: which allergy or interaction it meets) and the
reason it was rejected or cancelled, an administration's reason (held, refused), an allergy's
reaction. In the clear: drug and allergen codes, doses, routes and statuses, which the safety
checks, stock, the MAR schedule and the operations views compute on (codes, not narrative).
A reason written after the patient's record was erased is not kept (it could only be stored
unreadable); reading an erased patient's text raises ``DataErased``.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from activities.crypto.fields import DataErased, DataKey, FieldCipher, ephemeral_cipher
from activities.storage import sealed
from activities.storage.models_pharmacy import AllergyIntolerance, MedicationAdministration, MedicationOrder

ORDERS, ADMINISTRATIONS, ALLERGIES = "medication_orders", "medication_administrations", "allergy_intolerances"


def _write_key(session: Session, cipher: FieldCipher | None, patient_id: str) -> tuple[FieldCipher, DataKey | None]:
    cipher = cipher or ephemeral_cipher()
    try:
        return cipher, cipher.data_key(session, patient_id, create=True)
    except DataErased:
        return cipher, None


def seal_order(session: Session, cipher: FieldCipher | None, order_id: str, patient_id: str,
               values: dict[str, Any]) -> dict[str, Any]:
    """``values`` of an order row with ``hits`` and ``status_reason`` (when present) sealed."""
    if "hits" not in values and values.get("status_reason") is None:
        return values
    cipher, key = _write_key(session, cipher, patient_id)
    out = dict(values)
    if "hits" in out:
        if key is None:
            raise DataErased(patient_id, None)
        out["hits"] = sealed.seal_json(cipher, key, ORDERS, "hits", order_id, out["hits"] or [])
    if out.get("status_reason") is not None:
        out["status_reason"] = None if key is None else cipher.encrypt(key, ORDERS, "status_reason", order_id,
                                                                      out["status_reason"])
    return out


def seal_row(session: Session, cipher: FieldCipher | None, table: str, column: str,
             values: dict[str, Any]) -> dict[str, Any]:
    """``values`` of an administration or allergy row with its free-text ``column`` sealed."""
    if values.get(column) is None:
        return values
    cipher, key = _write_key(session, cipher, values["patient_id"])
    text = None if key is None else cipher.encrypt(key, table, column, values["id"], values[column])
    return {**values, column: text}


def order_hits(session: Session, cipher: FieldCipher, o: MedicationOrder) -> list[dict[str, Any]]:
    """The order's safety findings in the clear; ``DataErased`` once the patient's key was shredded."""
    key = sealed.key_of(session, cipher, o.patient_id)
    return sealed.unseal_json(cipher, key, ORDERS, "hits", o.id, o.hits) or []


def order_status_reason(session: Session, cipher: FieldCipher, o: MedicationOrder) -> str | None:
    if o.status_reason is None:
        return None
    return sealed.unseal(cipher, sealed.key_of(session, cipher, o.patient_id), ORDERS, "status_reason", o.id,
                         o.status_reason)


def administration_reason(session: Session, cipher: FieldCipher, a: MedicationAdministration) -> str | None:
    if a.reason is None:
        return None
    return sealed.unseal(cipher, sealed.key_of(session, cipher, a.patient_id), ADMINISTRATIONS, "reason", a.id,
                         a.reason)


def allergy_reaction(session: Session, cipher: FieldCipher, a: AllergyIntolerance) -> str | None:
    if a.reaction is None:
        return None
    return sealed.unseal(cipher, sealed.key_of(session, cipher, a.patient_id), ALLERGIES, "reaction", a.id,
                         a.reaction)
