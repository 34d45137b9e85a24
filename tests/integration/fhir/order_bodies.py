"""FHIR order bodies shared by the order tests (shaped as a read of the order serves them)."""
from __future__ import annotations

DICOM = "http://dicom.nema.org/resources/ontology/DCM"
FORMULARY = "urn:hms:formulary"


def imaging_order(patient_id: str, *, modality: str = "CR", identifier: str | None = None, **extra: object) -> dict:
    body: dict = {"resourceType": "ServiceRequest", "status": "active", "intent": "order", "priority": "urgent",
                  "code": {"coding": [{"system": DICOM, "code": modality}]}, "bodySite": [{"text": "chest"}],
                  "reasonCode": [{"text": "R05"}], "subject": {"reference": f"Patient/{patient_id}"}}
    if identifier:
        body["identifier"] = [{"system": "urn:hms:test-order", "value": identifier}]
    return {**body, **extra}


def medication_order(patient_id: str, *, drug: str = "17767", dose: float = 5, unit: str = "mg", route: str = "PO",
                     identifier: str | None = None, **extra: object) -> dict:
    body: dict = {"resourceType": "MedicationRequest", "status": "active", "intent": "order",
                  "medicationCodeableConcept": {"coding": [{"system": FORMULARY, "code": drug}]},
                  "subject": {"reference": f"Patient/{patient_id}"},
                  "dosageInstruction": [{"timing": {"repeat": {"frequency": 1, "period": 24, "periodUnit": "h",
                                                               "count": 1}},
                                         "route": {"text": route},
                                         "doseAndRate": [{"doseQuantity": {"value": dose, "unit": unit}}]}]}
    if identifier:
        body["identifier"] = [{"system": "urn:hms:test-order", "value": identifier}]
    return {**body, **extra}
