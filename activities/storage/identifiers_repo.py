"""Business identifiers of resources created over FHIR: stored once, sealed, found by blind index.

A create's ``identifier`` elements (an order's placer number, a document's or a charge's id in
the sending system) are kept per (resource type, resource id), each sealed under the patient's
data key with associated data naming its row, so a ciphertext moved to another row or patient
fails to open; once the patient's key is shredded they are gone with the rest of the record.
Searches compare keyed blind indexes — of (type, system, value), and of (type, value) for a
value given without its system — and the caller checks the opened element, so a search never
depends on the index alone.
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from activities.crypto.fields import FieldCipher
from activities.storage import sealed
from activities.storage.models_identifiers import ResourceIdentifier

TABLE = "resource_identifiers"
#: Ids per ``IN`` list when many resources are served at once.
CHUNK = 1000


class IdentifierConflict(Exception):
    """The resource's identifiers are stored for another patient."""


def system_index(cipher: FieldCipher, resource_type: str, system: str, value: str) -> bytes:
    """Blind index of (type, system, value); ``system`` ``""`` stands for an identifier without one."""
    return cipher.blind_index(f"resource-identifier|{resource_type}|{system}", value)


def value_index(cipher: FieldCipher, resource_type: str, value: str) -> bytes:
    """Blind index of (type, value): what a search by a bare value (any system) looks up."""
    return cipher.blind_index(f"resource-identifier-value|{resource_type}", value)


def _row_id(resource_type: str, resource_id: str, position: int) -> str:
    return f"{resource_type}/{resource_id}/{position}"


def record(session: Session, cipher: FieldCipher, *, resource_type: str, resource_id: str, patient_id: str,
           identifiers: list[dict[str, Any]]) -> bool:
    """Store the resource's identifiers once; returns whether this call stored them.

    Idempotent: a repeated create (or a retried one) finds them stored and changes nothing;
    ``IdentifierConflict`` when they are stored for another patient. Raises ``DataErased`` for
    an erased patient, like every sealed write.
    """
    if not identifiers:
        return False
    owner = session.scalar(sa.select(ResourceIdentifier.patient_id).where(
        ResourceIdentifier.resource_type == resource_type, ResourceIdentifier.resource_id == resource_id).limit(1))
    if owner is not None:
        if owner != patient_id:
            raise IdentifierConflict(f"{resource_type}/{resource_id} has identifiers of another patient")
        return False
    key = cipher.data_key(session, patient_id, create=True)
    rows = []
    for position, element in enumerate(identifiers):
        system, value = str(element.get("system") or ""), str(element.get("value") or "")
        rows.append(dict(
            resource_type=resource_type, resource_id=resource_id, position=position, patient_id=patient_id,
            element=cipher.encrypt(key, TABLE, "element", _row_id(resource_type, resource_id, position),
                                   json.dumps(element, sort_keys=True, separators=(",", ":"))),
            system_index=system_index(cipher, resource_type, system, value),
            value_index=value_index(cipher, resource_type, value)))
    inserted = session.execute(insert(ResourceIdentifier).values(rows).on_conflict_do_nothing()
                               .returning(ResourceIdentifier.position)).scalars().all()
    return bool(inserted)


def matching(session: Session, cipher: FieldCipher, resource_type: str, system: str | None, value: str) -> set[str]:
    """Ids of resources with an identifier whose index matches; ``system`` None: any system."""
    column, index = ((ResourceIdentifier.value_index, value_index(cipher, resource_type, value)) if system is None
                     else (ResourceIdentifier.system_index, system_index(cipher, resource_type, system, value)))
    return set(session.scalars(sa.select(ResourceIdentifier.resource_id).distinct().where(
        ResourceIdentifier.resource_type == resource_type, column == index)))


def of_resources(session: Session, cipher: FieldCipher, resource_type: str,
                 resource_ids: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    """The stored identifiers of each resource, in the order they came; an erased patient's are left out."""
    wanted = sorted(set(resource_ids))
    rows: list[ResourceIdentifier] = []
    for start in range(0, len(wanted), CHUNK):
        rows += session.scalars(sa.select(ResourceIdentifier).where(
            ResourceIdentifier.resource_type == resource_type,
            ResourceIdentifier.resource_id.in_(wanted[start:start + CHUNK]))
            .order_by(ResourceIdentifier.resource_id, ResourceIdentifier.position))
    keys = sealed.keys_for(session, cipher, (r.patient_id for r in rows))
    out: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        key = keys.get(r.patient_id)
        if key is None or isinstance(key, Exception):  # shredded (or never made): the identifiers went with it
            continue
        text = cipher.decrypt(key, TABLE, "element", _row_id(resource_type, r.resource_id, r.position), r.element)
        out.setdefault(r.resource_id, []).append(json.loads(text))
    return out


__all__ = ["IdentifierConflict", "matching", "of_resources", "record", "system_index", "value_index"]


def charge_key(cipher: FieldCipher, system: str, value: str) -> str:
    """The idempotency key of a charge posted over FHIR with this identifier: ``fhir|<blind index>``, so the
    key (and the charge id derived from it) never holds the identifier itself (an accession number, say)."""
    return f"fhir|{system_index(cipher, 'ChargeItem', system, value).hex()}"
