"""Impossible triage inputs are refused with the offending field named."""
from __future__ import annotations

import math

import pytest

from ml.triage.schema import InvalidInput, TriageInput

GOOD = dict(age=40, complaint="twisted ankle", respiratory_rate=16, spo2=98, on_oxygen=False, systolic_bp=125,
            heart_rate=72, consciousness="A", temperature=36.8)


@pytest.mark.parametrize("field,value", [
    ("spo2", 130), ("spo2", -1), ("respiratory_rate", -3), ("respiratory_rate", 200), ("age", 200), ("age", -1),
    ("temperature", math.nan), ("temperature", math.inf), ("temperature", 52.0), ("temperature", "hot"),
    ("heart_rate", math.nan), ("heart_rate", 18.5), ("heart_rate", True), ("systolic_bp", 400),
    ("consciousness", "X"), ("consciousness", "alert"), ("complaint", ""), ("complaint", "   "),
    ("complaint", None), ("complaint", "x" * 501), ("spo2_scale", 3), ("on_oxygen", "yes"),
])
def test_invalid_value_names_the_field(field: str, value: object) -> None:
    with pytest.raises(InvalidInput) as err:
        TriageInput(**{**GOOD, field: value})
    assert err.value.field == field
    assert field in str(err.value) and err.value.message


def test_missing_and_unknown_fields_from_json() -> None:
    body = {k: v for k, v in GOOD.items() if k != "spo2"}
    with pytest.raises(InvalidInput) as err:
        TriageInput.from_mapping(body)
    assert err.value.field == "spo2"
    with pytest.raises(InvalidInput) as err:
        TriageInput.from_mapping({**GOOD, "blood_group": "O"})
    assert err.value.field == "blood_group"


def test_valid_input_is_normalised() -> None:
    req = TriageInput.from_mapping({**GOOD, "heart_rate": 72.0, "temperature": 37})
    assert req.heart_rate == 72 and isinstance(req.heart_rate, int)
    assert req.temperature == 37.0 and isinstance(req.temperature, float)
    assert req.spo2_scale == 1
