"""Parsing and validation of inbound HL7 v2 (hl7apy underneath): payloads and precise refusals."""
from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from api.hl7.errors import Hl7Error
from api.hl7.parse import derived_patient_id, identifier_system, parse
from tests.unit.hl7.samples import adt, orm, oru

KEY = bytes(range(32))


def refusal(text: str) -> tuple[str, str, str]:
    with pytest.raises(Hl7Error) as info:
        parse(text.encode(), KEY)
    err = info.value
    loc = err.location
    return err.ack_code, err.code, f"{loc.segment}^{loc.sequence}^{loc.field}"


def test_a01_carries_identifier_demographics_ward_and_attending() -> None:
    header, msg = parse(adt("A01", mrn="MRN-7", cid="C1", family="O\\T\\Brien").encode(), KEY)
    assert (header.control_id, msg.kind, msg.version) == ("C1", "ADT^A01", "2.5")
    assert (msg.identifier_system, msg.identifier_value) == ("urn:hms:mrn", "MRN-7")
    assert msg.derived_patient_id == derived_patient_id(KEY, "urn:hms:mrn", "MRN-7")
    assert (msg.family, msg.given, msg.birth_date, msg.gender) == ("O&Brien", "Asha", date(1980, 5, 17), "female")
    assert (msg.ward, msg.attending, msg.sending_facility) == ("medical", "attending-1", "GENLAB")
    assert msg.message_time == datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def test_the_same_identifier_gives_the_same_patient_key_as_the_task_api() -> None:
    from activities.storage.identity import patient_id_for

    assert derived_patient_id(KEY, "urn:hms:mrn", "X1") == patient_id_for(KEY, "urn:hms:mrn", "X1")


@pytest.mark.parametrize(("authority", "system"), [
    ("", "urn:hms:mrn"), ("HMS", "urn:hms:mrn"), ("2.16.840.1.113883.2.1", "urn:oid:2.16.840.1.113883.2.1"),
    ("CITYLAB", "urn:hms:hl7:aa:CITYLAB"), ("urn:in:abha", "urn:in:abha")])
def test_assigning_authority_maps_to_an_identifier_system(authority: str, system: str) -> None:
    assert identifier_system(authority) == system


def test_oru_results_are_coded_with_units_ranges_and_times() -> None:
    _, msg = parse(oru(value="13.2").encode(), KEY)
    hb, hr = msg.observations
    assert (hb.set_id, hb.value_type, hb.code, hb.code_system, hb.value, hb.unit) == ("1", "NM", "718-7", "LN",
                                                                                      "13.2", "g/dL")
    assert (hb.reference_range, hb.abnormal_flag, hb.status) == ("12.0-16.0", "N", "F")
    assert hb.effective == datetime(2026, 11, 25, 11, 0, tzinfo=UTC)
    assert hr.effective == datetime(2026, 11, 25, 10, 0, tzinfo=UTC)  # OBR-7 when OBX-14 is empty


def test_orders_carry_the_order_number_and_service() -> None:
    for trigger in ("ORM^O01", "OML^O21"):
        _, msg = parse(orm(trigger=trigger).encode(), KEY)
        assert (msg.order_id, msg.order_code) == ("ORD-1001", "36643-5")


def test_segment_separators_may_be_newlines() -> None:
    _, msg = parse(adt("A08").replace("\r", "\n").encode(), KEY)
    assert msg.kind == "ADT^A08" and msg.birth_date == date(1980, 5, 17)


@pytest.mark.parametrize(("text", "expected"), [
    (adt("A01").replace("MRN1^^^HMS^MR", ""), ("AE", "101", "PID^1^3")),
    (adt("A01").replace("PID|", "ZZZ|"), ("AE", "101", "PID^1^0")),
    (adt("A01", dob=""), ("AE", "101", "PID^1^7")),
    (adt("A01", dob="1980-05-17"), ("AE", "102", "PID^1^7")),
    (adt("A01", sex="Q"), ("AE", "103", "PID^1^8")),
    (adt("A01", family=""), ("AE", "101", "PID^1^5")),
    (adt("A01", ward=""), ("AE", "101", "PV1^1^3")),
    (adt("A01").replace("ADT^A01^ADT_A01", "ADT^A02^ADT_A02"), ("AR", "201", "MSH^1^9")),
    (adt("A01").replace("ADT^A01^ADT_A01", "SIU^S12^SIU_S12"), ("AR", "200", "MSH^1^9")),
    (adt("A01", version="2.1"), ("AR", "203", "MSH^1^12")),
    (adt("A01").replace("|P|2.5", "|X|2.5"), ("AR", "202", "MSH^1^11")),
    (adt("A01", cid=" "), ("AR", "101", "MSH^1^10")),
    ("PID|1||X", ("AR", "100", "MSH^1^0")),
    (oru().replace("|NM|718-7^Hemoglobin^LN||13.2|", "|NM|718-7^Hemoglobin^LN||high|"), ("AE", "102", "OBX^1^5")),
    (oru().replace("OBX|2|NM|8867-4", "OBX|2|NM|"), ("AE", "101", "OBX^2^3")),
    (oru().replace("OBX|2|NM|", "OBX|2|XX|"), ("AE", "103", "OBX^2^2")),
    (oru().replace("OBX|2|", "OBX|1|"), ("AE", "102", "OBX^2^1")),
    ("\r".join(oru().split("\r")[:3]), ("AE", "101", "OBX^1^0")),
    (orm().replace("ORC|NW|ORD-1001|FIL-1", "ORC|NW").replace("OBR|1|ORD-1001|FIL-1|", "OBR|1|||"),
     ("AE", "101", "ORC^1^2")),
])
def test_refusals_name_the_code_and_location(text: str, expected: tuple[str, str, str]) -> None:
    assert refusal(text) == expected


def test_refusal_texts_never_quote_the_message() -> None:
    with pytest.raises(Hl7Error) as info:
        parse(adt("A01", dob="SECRET-DOB").encode(), KEY)
    assert "SECRET" not in info.value.text
