"""OBX results as FHIR R4 Observations (plain dicts, as ``observations_repo`` stores them).

Identifier ``urn:hms:hl7:<sending facility>`` | ``<MSH-10>-<OBX-1>`` makes each result
idempotent: a resent ORU maps to the same Observations.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from workflows.hl7_contracts import Hl7Observation

CODE_SYSTEMS = {"LN": "http://loinc.org", "LOINC": "http://loinc.org", "SCT": "http://snomed.info/sct",
                "SNM": "http://snomed.info/sct", "UCUM": "http://unitsofmeasure.org"}
#: OBX-11 (table 0085) → Observation.status.
STATUS = {"F": "final", "C": "corrected", "P": "preliminary", "R": "preliminary", "S": "preliminary",
          "I": "registered", "O": "registered", "X": "cancelled", "D": "entered-in-error", "W": "entered-in-error",
          "A": "amended", "U": "final", "N": "unknown"}
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
VITAL_SIGNS_LOINC = frozenset({"8867-4", "9279-1", "8310-5", "8480-6", "8462-4", "59408-5", "2708-6", "29463-7",
                               "8302-2", "85354-9", "39156-5"})


def code_system(hl7_system: str) -> str:
    return CODE_SYSTEMS.get(hl7_system.upper(), f"urn:hms:hl7:cs:{hl7_system}" if hl7_system else "urn:hms:hl7:local")


def observation_resource(obx: Hl7Observation, *, facility: str, control_id: str, patient_id: str,
                         encounter_id: str | None, fallback_time: datetime | None) -> dict[str, Any]:
    """One FHIR Observation for one OBX."""
    system = code_system(obx.code_system)
    category = "vital-signs" if system == "http://loinc.org" and obx.code in VITAL_SIGNS_LOINC else "laboratory"
    coding: dict[str, Any] = {"system": system, "code": obx.code}
    if obx.display:
        coding["display"] = obx.display
    obs: dict[str, Any] = {
        "resourceType": "Observation",
        "identifier": [{"system": f"urn:hms:hl7:{facility}", "value": f"{control_id}-{obx.set_id}"}],
        "status": STATUS.get(obx.status, "final"),
        "category": [{"coding": [{"system": CATEGORY, "code": category}]}],
        "code": {"coding": [coding]},
        "subject": {"reference": f"Patient/{patient_id}"},
    }
    if encounter_id:
        obs["encounter"] = {"reference": f"Encounter/{encounter_id}"}
    when = obx.effective or fallback_time
    if when is not None:
        obs["effectiveDateTime"] = when.isoformat()
    obs.update(_value(obx))
    if obx.reference_range:
        obs["referenceRange"] = [{"text": obx.reference_range}]
    if obx.abnormal_flag:
        obs["interpretation"] = [{"coding": [{"system": INTERPRETATION, "code": obx.abnormal_flag}]}]
    return obs


def _value(obx: Hl7Observation) -> dict[str, Any]:
    if obx.value == "":
        return {"dataAbsentReason": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/data-absent-reason",
                                                 "code": "unknown"}]}}
    if obx.value_type == "NM":
        number = float(obx.value)
        quantity: dict[str, Any] = {"value": int(number) if number.is_integer() and "." not in obx.value else number}
        if obx.unit:
            quantity.update(unit=obx.unit, system="http://unitsofmeasure.org", code=obx.unit)
        return {"valueQuantity": quantity}
    if obx.value_type in ("CE", "CWE", "CNE"):
        return {"valueCodeableConcept": {"text": obx.value, "coding": [{"system": "urn:hms:hl7:local", "code": obx.value}]}}
    return {"valueString": obx.value}
