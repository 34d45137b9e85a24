"""ChargeItem update: a charge entered in error (status ``entered-in-error``) is reversed.

The charge is kept and flagged (``reversed_at``/``reversed_by``), never goes on an invoice and
leaves the stay's totals; the database refuses to invoice it or to undo the reversal (0906). A charge
already on an invoice is a 409 (its invoice is cancelled or settled instead), and any other change
to a charge is a 422 naming the element: a charge's price comes from the tariff, its stay and
patient from the journey. Putting back the stored charge unchanged answers 200 and changes nothing.
"""
from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from activities.crypto.fields import FieldCipher
from activities.storage import billing_adjust, billing_repo
from api.fhir.errors import FhirError
from api.fhir.registry import Resource, WriteContext, get
from api.fhir.resources.billing_updates import status_change

REVERSED = "entered-in-error"


def update(session: Session, cipher: FieldCipher, rid: str, body: Resource, ctx: WriteContext) -> Resource | None:
    """Reverse the charge (once); None when there is no such charge (404)."""
    rt = get("ChargeItem")
    assert rt is not None and rt.read is not None
    current = rt.read(session, cipher, rid) if len(rid) <= 60 else None
    if current is None:
        return None
    wanted = status_change(rt, body, current)
    if wanted is None:
        return current
    if current.get("status") == REVERSED:
        raise FhirError(409, f"ChargeItem/{rid} was entered in error; a reversal is final")
    if wanted != REVERSED:
        raise FhirError(422, f"ChargeItem.status: a charge changes only to {REVERSED} (its reversal)",
                        expression=["ChargeItem.status"])
    try:
        billing_adjust.reverse_charge(session, rid, by=ctx.user_id, at=datetime.now(UTC))
    except billing_repo.BillingConflict as exc:
        raise FhirError(409, str(exc)) from None
    return rt.read(session, cipher, rid)
