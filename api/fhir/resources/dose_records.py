"""A posted MedicationAdministration as the eMAR's dose payload, checked against the order it records.

The dose task of the pharmacy course takes ``{"status": given|held|refused, "reason"?}`` from the nurse
who gives it (``workflows.pharmacy_contracts.TASK_PAYLOADS``); this maps the FHIR resource onto that
(``completed`` → given, ``on-hold`` → held, ``not-done`` → refused, ``statusReason`` → reason) and
refuses, as a 422 naming the element, a body that is not the due dose of its order: another patient,
stay or drug, another dose or route, a performer other than the caller, a time in the future, or an
element the eMAR does not record. The eMAR records the time the dose is recorded; ``effective[x]``
is checked, not stored.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from activities.storage.observations_repo import parse_instant
from api.fhir.errors import FhirError
from api.fhir.resources.common import USER_SYSTEM, ref_of
from api.fhir.resources.status_changes import MAX_REASON, reason_of

MA = "MedicationAdministration"
FORMULARY = "urn:hms:formulary"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
#: FHIR status → the dose task's status.
DOSE_STATUS = {"completed": "given", "on-hold": "held", "not-done": "refused"}
NEEDS_REASON = ("held", "refused")
RECORDED = frozenset({"resourceType", "id", "meta", "text", "status", "statusReason", "medicationCodeableConcept",
                      "subject", "context", "effectiveDateTime", "effectivePeriod", "performer", "request", "dosage"})
DOSAGE = frozenset({"dose", "route"})
#: Clock difference tolerated between the client and the server for ``effective[x]``.
SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class OrderFacts:
    """What a dose is checked against: the order as stored (codes and numbers)."""

    id: str
    patient_id: str
    encounter_id: str
    workflow_id: str
    status: str
    drug_code: str
    dose: float
    unit: str
    route: str


def _refuse(element: str, why: str) -> FhirError:
    return FhirError(422, f"{MA}.{element}: {why}", expression=[f"{MA}.{element}"])


def requested_order(body: dict[str, Any]) -> str:
    """The id of the MedicationRequest the dose belongs to (``request``, required)."""
    ref = (body.get("request") or {}).get("reference") if isinstance(body.get("request"), dict) else None
    if not isinstance(ref, str) or not ref.startswith("MedicationRequest/") or len(ref) > 120:
        raise _refuse("request", "a dose is recorded against its order: MedicationRequest/<id> is required")
    return ref.split("/", 1)[1]


def dose_payload(body: dict[str, Any], order: OrderFacts, user_id: str, now: datetime) -> dict[str, Any]:
    """The dose task's payload for ``body``, or a 422 naming the first element that is not the due dose."""
    extra = sorted(set(body) - RECORDED)
    if extra:
        raise _refuse(extra[0], "name the drug as medicationCodeableConcept" if extra[0] == "medicationReference"
                      else "the eMAR does not record it")
    status = DOSE_STATUS.get(str(body.get("status")))
    if status is None:
        raise _refuse("status", "a dose is recorded as completed (given), on-hold (held) or not-done (refused)")
    reason = reason_of(body.get("statusReason"))
    if reason is None and status in NEEDS_REASON:
        raise _refuse("statusReason", f"a dose {status} needs a reason (text)")
    if reason is not None and len(reason) > MAX_REASON:
        raise _refuse("statusReason", f"at most {MAX_REASON} characters")
    if ref_of(body, "subject") != order.patient_id or not str(body["subject"].get("reference")).startswith("Patient/"):
        raise _refuse("subject", f"must be the patient of MedicationRequest/{order.id}")
    if "context" in body and (ref_of(body, "context") != order.encounter_id
                              or not str(body["context"].get("reference")).startswith("Encounter/")):
        raise _refuse("context", f"must be the stay of MedicationRequest/{order.id}")
    _check_drug(body.get("medicationCodeableConcept"), order)
    _check_time(body, now)
    _check_performer(body.get("performer") or [], user_id)
    _check_dosage(body.get("dosage"), order)
    return {"status": status, **({"reason": reason} if reason is not None else {})}


def _check_drug(concept: Any, order: OrderFacts) -> None:
    codes = [c.get("code") for c in (concept or {}).get("coding") or [] if c.get("system") in (FORMULARY, RXNORM)]
    if order.drug_code not in codes:
        raise _refuse("medicationCodeableConcept",
                      f"must carry the ordered drug's code ({FORMULARY} or {RXNORM}) of MedicationRequest/{order.id}")


def _check_time(body: dict[str, Any], now: datetime) -> None:
    element = "effectiveDateTime" if "effectiveDateTime" in body else "effectivePeriod"
    period = body.get("effectivePeriod") or {}
    raw = body.get("effectiveDateTime") or period.get("end") or period.get("start")
    try:
        moment = parse_instant(str(raw))
    except ValueError:
        raise _refuse(element, "not a date and time") from None
    if moment > now + SKEW:
        raise _refuse(element, "a dose cannot be recorded as given in the future")


def _check_performer(performers: list[Any], user_id: str) -> None:
    for p in performers:
        actor = p.get("actor") or {}
        ident = actor.get("identifier") or {}
        if actor.get("reference") or ident.get("system") != USER_SYSTEM or ident.get("value") != user_id:
            raise _refuse("performer", f"the eMAR records the dose under the nurse recording it "
                                       f"({USER_SYSTEM}|{user_id}); omit performer or name yourself")


def _check_dosage(dosage: Any, order: OrderFacts) -> None:
    if not dosage:
        return
    extra = sorted(set(dosage) - DOSAGE)
    if extra:
        raise _refuse(f"dosage.{extra[0]}", "the eMAR records the ordered dose and route only")
    dose = dosage.get("dose")
    if dose is not None:
        unit = dose.get("code") or dose.get("unit")
        if dose.get("value") is None or float(dose["value"]) != float(order.dose) or (unit and unit != order.unit):
            raise _refuse("dosage.dose", f"must be the ordered dose ({order.dose:g} {order.unit}); "
                                         "a different dose needs a new order")
    route = dosage.get("route")
    if route is not None:
        given = [c.get("code") for c in route.get("coding") or []] + [route.get("text")]
        if order.route not in given:
            raise _refuse("dosage.route", f"must be the ordered route ({order.route})")
