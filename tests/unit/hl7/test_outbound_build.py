"""Outbound messages are valid HL7: our own inbound parser accepts what we send."""
from __future__ import annotations

from datetime import UTC, date, datetime
from types import SimpleNamespace

from activities.hl7_fhir import observation_resource
from activities.hl7_outbound import build_message
from api.hl7.parse import parse
from workflows.hl7_contracts import Hl7Observation, Hl7OutboundRequest

PATIENT = SimpleNamespace(id="p-1", identifiers=(("urn:hms:mrn", "MRN-9"),), given="Asha", family="Verma",
                          birth_date=date(1980, 5, 17), gender="female")
ENCOUNTER = SimpleNamespace(id="e-1", ward_id="medical", attending_id="attending-1",
                            admitted_at=datetime(2026, 11, 25, 9, tzinfo=UTC), ended_at=datetime(2026, 11, 26, tzinfo=UTC))
NOW = datetime(2026, 11, 26, 10, tzinfo=UTC)


def test_adt_a03_round_trips() -> None:
    text = build_message(Hl7OutboundRequest(kind="ADT^A03", control_id="O-3", patient_id="p-1"), PATIENT, ENCOUNTER,
                         [], NOW)
    _, msg = parse(text.encode(), bytes(32))
    assert (msg.kind, msg.identifier_value, msg.ward, msg.attending) == ("ADT^A03", "MRN-9", "medical", "attending-1")


def test_oru_round_trips_observations() -> None:
    obx = Hl7Observation(set_id="1", value_type="NM", code="718-7", code_system="LN", display="Hemoglobin",
                         value="13.2", unit="g/dL", status="F", effective=NOW)
    fhir = observation_resource(obx, facility="LAB", control_id="C1", patient_id="p-1", encounter_id="e-1",
                                fallback_time=None)
    assert fhir["identifier"] == [{"system": "urn:hms:hl7:LAB", "value": "C1-1"}]
    assert fhir["valueQuantity"]["value"] == 13.2 and fhir["encounter"] == {"reference": "Encounter/e-1"}
    text = build_message(Hl7OutboundRequest(kind="ORU^R01", control_id="O-4", patient_id="p-1"), PATIENT, ENCOUNTER,
                         [fhir], NOW)
    _, msg = parse(text.encode(), bytes(32))
    (back,) = msg.observations
    assert (back.code, back.code_system, back.value, back.unit, back.effective) == ("718-7", "LN", "13.2", "g/dL", NOW)


def test_orm_round_trips_the_order() -> None:
    text = build_message(Hl7OutboundRequest(kind="ORM^O01", control_id="O-5", patient_id="p-1", order_id="ORD-7",
                                            order_code="36643-5"), PATIENT, ENCOUNTER, [], NOW)
    _, msg = parse(text.encode(), bytes(32))
    assert (msg.order_id, msg.order_code) == ("ORD-7", "36643-5")
