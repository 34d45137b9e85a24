"""ChargeItem create: a billable event posted over FHIR (e.g. by a departmental system), stored through
``billing_repo.record_charge`` as the billing activities' ``record_charge`` stores the journeys' charges:
priced from the tariff, once per idempotency key, so the stay's invoice picks it up like any other.

The idempotency key is a blind index of the first identifier (required; the identifier itself is kept
only sealed, below); the charge id derives from the key,
so a resent charge answers 200 with the stored one and the same key on another stay is a 409.
The identifiers are kept with the charge (``identifiers``, sealed), served on its reads and searchable.
The tariff sets the price: a ``priceOverride`` is accepted only when it is the tariff's amount.
"""
from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy.orm import Session

from activities.billing_tariff import UnknownTariffCode, load_tariff
from activities.crypto.fields import FieldCipher
from activities.storage import billing_repo, identifiers_repo
from activities.storage.observations_repo import parse_instant
from api.fhir.errors import FhirError
from api.fhir.registry import Resource, WriteContext, read_written
from api.fhir.resources.common import known_patient, ref_of
from api.fhir.resources.identifiers import elements, remember

TARIFF_SYSTEM = "urn:hms:tariff"
SOURCE = "fhir"


def identifier_of(body: Resource) -> tuple[str, str]:
    """(system, value) of the first identifier (422 when there is none: a charge must not double)."""
    idents = body.get("identifier") or []
    first = idents[0] if idents and isinstance(idents[0], dict) else {}
    system, value = str(first.get("system") or ""), str(first.get("value") or "")
    if not value or len(system) + len(value) > 190:
        raise FhirError(422, "ChargeItem.identifier: one identifier (system and value under 190 characters) makes "
                             "the charge idempotent and is required", expression=["ChargeItem.identifier"])
    return system, value


def idempotency_key(cipher: FieldCipher, body: Resource) -> str:
    """``fhir|<blind index of the first identifier>``: the key (and the charge id derived from it) never holds
    the identifier itself, which may be a department's accession number for the patient."""
    return identifiers_repo.charge_key(cipher, *identifier_of(body))


def new_id(body: Resource, ctx: WriteContext) -> str:
    assert ctx.cipher is not None
    return billing_repo.charge_id_for(idempotency_key(ctx.cipher, body))


def _quantity(body: Resource) -> int:
    value = (body.get("quantity") or {}).get("value", 1)
    if not isinstance(value, int | float | Decimal) or value != int(value) or not 1 <= value <= 10_000:
        raise FhirError(422, "ChargeItem.quantity.value: a whole number from 1 to 10000",
                        expression=["ChargeItem.quantity"])
    return int(value)


def _occurred(body: Resource) -> datetime:
    raw = body.get("occurrenceDateTime")
    if raw is None:
        return datetime.now(UTC)
    try:
        return parse_instant(str(raw))
    except ValueError:
        raise FhirError(422, "ChargeItem.occurrenceDateTime: a FHIR dateTime",
                        expression=["ChargeItem.occurrenceDateTime"]) from None


def create(session: Session, cipher: FieldCipher, body: Resource, ctx: WriteContext) -> tuple[Resource, bool]:
    """Record the charge (once per key) and answer it as a read serves it."""
    patient_id = known_patient(session, body, "ChargeItem", "subject")
    if body.get("status") != "billable":
        raise FhirError(422, "a new ChargeItem has status billable", expression=["ChargeItem.status"])
    elements("ChargeItem", body)
    code = next((c.get("code") for c in (body.get("code") or {}).get("coding") or []
                 if c.get("system") == TARIFF_SYSTEM and c.get("code")), None)
    quantity = _quantity(body)
    try:
        amount = load_tariff().price(str(code), quantity)
    except UnknownTariffCode:
        raise FhirError(422, f"ChargeItem.code needs a {TARIFF_SYSTEM} code the tariff prices",
                        expression=["ChargeItem.code"]) from None
    override = body.get("priceOverride")
    if override is not None:
        try:
            same = Decimal(str(override.get("value"))) == amount and override.get("currency") in (
                None, load_tariff().item(str(code)).currency)
        except InvalidOperation:
            same = False
        if not same:
            raise FhirError(422, "ChargeItem.priceOverride: charges are priced from the tariff",
                            expression=["ChargeItem.priceOverride"])
    encounter_id = ref_of(body, "context")
    enc = billing_repo.encounter(session, encounter_id) if encounter_id and len(encounter_id) <= 36 else None
    if enc is None or enc.patient_id != patient_id:
        raise FhirError(422, "ChargeItem.context must reference a stay of the subject",
                        expression=["ChargeItem.context"])
    key = idempotency_key(cipher, body)
    try:
        charge, created = billing_repo.record_charge(
            session, load_tariff(), key=key, encounter_id=enc.id, patient_id=patient_id, journey_id=enc.journey_id,
            code=str(code), quantity=quantity, source=SOURCE, source_id=key.split("|", 1)[1][:120],
            occurred_at=_occurred(body))
    except billing_repo.BillingConflict as exc:
        raise FhirError(409, str(exc)) from None
    remember(session, cipher, "ChargeItem", charge.id, patient_id, body)
    return read_written(session, cipher, "ChargeItem", charge.id), created
