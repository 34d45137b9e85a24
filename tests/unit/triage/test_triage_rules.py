"""Triage rules: re-assessment interval by acuity, payload validation, override and acknowledgement."""
from __future__ import annotations

from datetime import timedelta

import pytest

from workflows import triage_rules as rules

VITALS = {"age": 54, "complaint": "chest pain", "respiratory_rate": 18, "spo2": 97, "on_oxygen": False,
          "systolic_bp": 128, "heart_rate": 88, "consciousness": "A", "temperature": 36.9}


@pytest.mark.parametrize(("esi", "band", "minutes"), [
    (1, "low", 15), (2, "low", 15), (3, "low", 30), (4, "low", 60), (5, "low", 60),
    (3, "low-medium", 30), (4, "low-medium", 60), (5, "medium", 60),
    (4, "high", 5), (2, "high", 5), (3, "high", 5),
])
def test_reassessment_interval_by_acuity(esi: int, band: str, minutes: int) -> None:
    assert rules.reassessment_interval(esi, band) == timedelta(minutes=minutes)


def test_rapid_response_threshold() -> None:
    assert not rules.needs_rapid_response(6)
    assert rules.needs_rapid_response(7)


def test_payload_canonicalised_and_age_filled_in() -> None:
    vitals = {k: v for k, v in VITALS.items() if k != "age"}
    parsed = rules.parse_triage_payload({"vitals": vitals}, known_age=61, known_complaint=None)
    assert parsed.vitals["age"] == 61 and parsed.vitals["spo2_scale"] == 1 and parsed.esi is None
    assert parsed.vitals["temperature"] == 36.9


def test_reassessment_reuses_the_complaint() -> None:
    vitals = {k: v for k, v in VITALS.items() if k != "complaint"}
    parsed = rules.parse_triage_payload({"vitals": vitals}, known_age=None, known_complaint="headache")
    assert parsed.vitals["complaint"] == "headache"


@pytest.mark.parametrize(("payload", "message"), [
    ({}, "payload.vitals: an object"),
    ({"vitals": [1]}, "payload.vitals: an object"),
    ({"vitals": VITALS, "note": "x"}, "unknown field"),
    ({"vitals": {**VITALS, "spo2": 140}}, "payload.vitals.spo2: must be between 0 and 100"),
    ({"vitals": {**VITALS, "consciousness": "X"}}, "payload.vitals.consciousness"),
    ({"vitals": {**VITALS, "pulse": 80}}, "payload.vitals.pulse: is not a triage field"),
    ({"vitals": {k: v for k, v in VITALS.items() if k != "heart_rate"}}, "heart_rate: is required"),
    ({"vitals": VITALS, "esi": 6}, "payload.esi"),
    ({"vitals": VITALS, "esi": True}, "payload.esi"),
    ({"vitals": VITALS, "esi": 3, "override_reason": "  "}, "override_reason: a non-empty"),
    ({"vitals": VITALS, "override_reason": "looks unwell"}, "only with payload.esi"),
])
def test_bad_payloads_name_the_field(payload: dict, message: str) -> None:
    with pytest.raises(rules.InvalidPayload, match=message):
        rules.parse_triage_payload(payload, known_age=None, known_complaint=None)


def test_missing_age_without_demographics_is_refused() -> None:
    vitals = {k: v for k, v in VITALS.items() if k != "age"}
    with pytest.raises(rules.InvalidPayload, match="age: is required"):
        rules.parse_triage_payload({"vitals": vitals}, known_age=None, known_complaint=None)


def test_final_esi_confirm_and_override() -> None:
    assert rules.final_esi(3, None, None) == (3, False)
    assert rules.final_esi(3, 3, None) == (3, False)
    assert rules.final_esi(3, 2, "looks grey and clammy") == (2, True)
    with pytest.raises(rules.InvalidPayload, match="override_reason: required to override the suggested ESI 3"):
        rules.final_esi(3, 4, None)


def test_ack_payload() -> None:
    rules.check_ack_payload({})
    rules.check_ack_payload({"eta_minutes": 5})
    for bad in ({"eta_minutes": 61}, {"eta_minutes": "5"}, {"text": "coming"}):
        with pytest.raises(rules.InvalidPayload):
            rules.check_ack_payload(bad)
