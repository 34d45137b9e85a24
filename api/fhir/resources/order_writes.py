"""ServiceRequest (imaging order) and MedicationRequest (medication order) as journey stage payloads.

A FHIR create of an order starts the same journey stage as ``POST /api/v1/journeys/{id}/imaging-orders``
or ``…/medication-orders``, so these functions turn the resource into the payload those routes take and
validate it the same way (the routes' models, the modality list, the formulary checks). The elements
read are the ones a read serves back (``clinical_orders``), so a read resource can be posted again.
Every refusal is a 422 naming the element.
"""
from __future__ import annotations

from typing import Any

from fastapi import HTTPException
from pydantic import ValidationError

from api.fhir.errors import FhirError
from api.fhir.registry import Resource
from api.routes.imaging import ImagingOrderIn
from api.routes.pharmacy import MedicationOrderIn, _check_against_formulary
from workflows.imaging_contracts import MODALITIES

DICOM = "http://dicom.nema.org/resources/ontology/DCM"
FORMULARY = "urn:hms:formulary"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
USER_SYSTEM = "urn:hms:user"
HOURS = {"h": 1, "d": 24, "wk": 168}


def _code(concept: Any, systems: tuple[str, ...] | None = None) -> str | None:
    """The first coding's code (from ``systems`` when given), else the concept's text."""
    if not isinstance(concept, dict):
        return None
    for coding in concept.get("coding") or []:
        if coding.get("code") and (systems is None or coding.get("system") in systems):
            return str(coding["code"])
    return None if systems else concept.get("text")


def _order_state(body: Resource, rtype: str) -> None:
    if body.get("status") not in (None, "active") or body.get("intent") != "order":
        raise FhirError(422, f"a new {rtype} is an order: status active, intent order",
                        expression=[f"{rtype}.status", f"{rtype}.intent"])


def _invalid(rtype: str, exc: ValidationError) -> FhirError:
    first = exc.errors()[0]
    field = ".".join(str(p) for p in first.get("loc", ()))
    return FhirError(422, f"{rtype}: {field}: {first.get('msg')}", expression=[rtype])


def imaging_stage(body: Resource) -> tuple[str, dict[str, Any]]:
    """The imaging stage payload of a ServiceRequest (``code`` a DICOM modality, body site, reason)."""
    _order_state(body, "ServiceRequest")
    modality = _code(body.get("code"), (DICOM,))
    if modality not in MODALITIES:
        raise FhirError(422, f"ServiceRequest.code needs a {DICOM} modality: one of {', '.join(MODALITIES)}",
                        expression=["ServiceRequest.code"])
    sites = body.get("bodySite") or []
    reasons = body.get("reasonCode") or []
    performers = [p.get("identifier") or {} for p in body.get("performer") or []]
    radiologist = next((i.get("value") for i in performers if i.get("system") == USER_SYSTEM), None)
    payload = {"modality": modality, "body_site": _code(sites[0]) if sites else None,
               "priority": body.get("priority") or "routine", "reason_code": _code(reasons[0]) if reasons else None,
               "radiologist": radiologist}
    try:
        checked = ImagingOrderIn.model_validate({k: v for k, v in payload.items() if v is not None})
    except ValidationError as exc:
        raise _invalid("ServiceRequest", exc) from None
    return "imaging", checked.model_dump(exclude={"order_id"}, exclude_none=True)


def _days(bounds: dict[str, Any]) -> float | None:
    """``timing.repeat.boundsDuration`` in days (an unknown unit gives 0, which the order check refuses)."""
    value = bounds.get("value")
    if value is None:
        return None
    return float(value) * HOURS.get(bounds.get("code") or bounds.get("unit") or "d", 0) / 24


def medication_stage(body: Resource) -> tuple[str, dict[str, Any]]:
    """The pharmacy stage payload of a MedicationRequest (formulary drug, one dosage instruction)."""
    _order_state(body, "MedicationRequest")
    drug = _code(body.get("medicationCodeableConcept"), (FORMULARY, RXNORM))
    if drug is None:
        raise FhirError(422, f"MedicationRequest.medicationCodeableConcept needs a {RXNORM} (or {FORMULARY}) code",
                        expression=["MedicationRequest.medicationCodeableConcept"])
    dosages = body.get("dosageInstruction") or []
    if len(dosages) != 1:
        raise FhirError(422, "MedicationRequest.dosageInstruction: exactly one is needed",
                        expression=["MedicationRequest.dosageInstruction"])
    dosage = dosages[0]
    repeat = (dosage.get("timing") or {}).get("repeat") or {}
    quantity: dict[str, Any] = next((d["doseQuantity"] for d in dosage.get("doseAndRate") or []
                                     if d.get("doseQuantity")), {})
    unit = HOURS.get(repeat.get("periodUnit") or "h")
    frequency = repeat.get("frequency") or 1
    period = repeat.get("period")
    payload = {
        "drug_code": drug, "dose": quantity.get("value"), "unit": quantity.get("unit") or quantity.get("code"),
        "route": _code(dosage.get("route")),
        "frequency_hours": period * unit / frequency if period and unit and frequency else None,
        "doses": repeat.get("count"),
        "duration_days": _days(repeat.get("boundsDuration") or {}),
    }
    if payload["frequency_hours"] is not None and float(payload["frequency_hours"]).is_integer():
        payload["frequency_hours"] = int(payload["frequency_hours"])
    try:
        checked = MedicationOrderIn.model_validate({k: v for k, v in payload.items() if v is not None})
    except ValidationError as exc:
        raise _invalid("MedicationRequest", exc) from None
    out = checked.model_dump(exclude={"order_id"}, exclude_none=True)
    try:
        _check_against_formulary(out)  # the task API's own checks: one rule for both doors
    except HTTPException as exc:
        raise FhirError(422, f"MedicationRequest: {exc.detail}", expression=["MedicationRequest"]) from None
    return "pharmacy", out
