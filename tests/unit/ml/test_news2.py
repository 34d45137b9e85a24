"""NEWS2 against the RCP 2017 chart: every parameter's bands and boundaries, and the risk bands."""
from __future__ import annotations

import pytest

from ml.triage.news2 import Vitals, news2

NORMAL = dict(respiratory_rate=16, spo2=97, on_oxygen=False, systolic_bp=120, heart_rate=70,
              consciousness="A", temperature=37.0, spo2_scale=1)


def score_with(**changes) -> tuple[dict, int]:
    result = news2(Vitals(**{**NORMAL, **changes}))
    return result.parameter_scores, result.score


def test_normal_observations_score_zero() -> None:
    result = news2(Vitals(**NORMAL))
    assert (result.score, result.band, result.single_parameter_3) == (0, "low", False)


@pytest.mark.parametrize("rr,expected", [(0, 3), (8, 3), (9, 1), (11, 1), (12, 0), (20, 0), (21, 2), (24, 2),
                                         (25, 3), (40, 3)])
def test_respiratory_rate(rr: int, expected: int) -> None:
    scores, total = score_with(respiratory_rate=rr)
    assert scores["respiratory_rate"] == expected and total == expected


@pytest.mark.parametrize("spo2,expected", [(80, 3), (91, 3), (92, 2), (93, 2), (94, 1), (95, 1), (96, 0),
                                           (100, 0)])
def test_spo2_scale1(spo2: int, expected: int) -> None:
    scores, total = score_with(spo2=spo2)
    assert scores["spo2"] == expected and total == expected


@pytest.mark.parametrize("spo2,on_oxygen,expected", [
    (83, False, 3), (84, False, 2), (85, False, 2), (86, False, 1), (87, False, 1), (88, False, 0),
    (92, False, 0), (93, False, 0), (97, False, 0), (100, False, 0),
    (83, True, 3), (86, True, 1), (88, True, 0), (92, True, 0), (93, True, 1), (94, True, 1), (95, True, 2),
    (96, True, 2), (97, True, 3), (100, True, 3)])
def test_spo2_scale2(spo2: int, on_oxygen: bool, expected: int) -> None:
    scores, total = score_with(spo2=spo2, on_oxygen=on_oxygen, spo2_scale=2)
    assert scores["spo2"] == expected
    assert total == expected + (2 if on_oxygen else 0)


def test_scale2_target_range_would_score_on_scale1() -> None:
    assert score_with(spo2=89)[0]["spo2"] == 3
    assert score_with(spo2=89, spo2_scale=2)[0]["spo2"] == 0


@pytest.mark.parametrize("on_oxygen,expected", [(False, 0), (True, 2)])
def test_air_or_oxygen(on_oxygen: bool, expected: int) -> None:
    scores, total = score_with(on_oxygen=on_oxygen)
    assert scores["air_or_oxygen"] == expected and total == expected


@pytest.mark.parametrize("sbp,expected", [(60, 3), (90, 3), (91, 2), (100, 2), (101, 1), (110, 1), (111, 0),
                                          (219, 0), (220, 3), (250, 3)])
def test_systolic_bp(sbp: int, expected: int) -> None:
    scores, total = score_with(systolic_bp=sbp)
    assert scores["systolic_bp"] == expected and total == expected


@pytest.mark.parametrize("hr,expected", [(30, 3), (40, 3), (41, 1), (50, 1), (51, 0), (90, 0), (91, 1),
                                         (110, 1), (111, 2), (130, 2), (131, 3), (180, 3)])
def test_pulse(hr: int, expected: int) -> None:
    scores, total = score_with(heart_rate=hr)
    assert scores["heart_rate"] == expected and total == expected


@pytest.mark.parametrize("level,expected", [("A", 0), ("C", 3), ("V", 3), ("P", 3), ("U", 3)])
def test_consciousness_new_confusion_scores_3(level: str, expected: int) -> None:
    scores, total = score_with(consciousness=level)
    assert scores["consciousness"] == expected and total == expected


@pytest.mark.parametrize("temp,expected", [(34.0, 3), (35.0, 3), (35.04, 3), (35.05, 1), (35.1, 1), (36.0, 1),
                                           (36.1, 0), (38.0, 0), (38.1, 1), (39.0, 1), (39.1, 2), (41.0, 2)])
def test_temperature(temp: float, expected: int) -> None:
    scores, total = score_with(temperature=temp)
    assert scores["temperature"] == expected and total == expected


@pytest.mark.parametrize("changes,score,band,single3", [
    ({"respiratory_rate": 21, "heart_rate": 111}, 4, "low", False),
    ({"respiratory_rate": 25}, 3, "low-medium", True),
    ({"consciousness": "C"}, 3, "low-medium", True),
    ({"systolic_bp": 90, "temperature": 38.5}, 4, "low-medium", True),
    ({"respiratory_rate": 21, "heart_rate": 111, "temperature": 38.5}, 5, "medium", False),
    ({"respiratory_rate": 25, "heart_rate": 111}, 5, "medium", True),
    ({"respiratory_rate": 21, "heart_rate": 111, "on_oxygen": True}, 6, "medium", False),
    ({"respiratory_rate": 21, "heart_rate": 111, "on_oxygen": True, "temperature": 38.5}, 7, "high", False),
    ({"consciousness": "U", "systolic_bp": 85, "heart_rate": 135}, 9, "high", True),
])
def test_bands_and_single_parameter_rule(changes: dict, score: int, band: str, single3: bool) -> None:
    result = news2(Vitals(**{**NORMAL, **changes}))
    assert (result.score, result.band, result.single_parameter_3) == (score, band, single3)


def test_maximum_score_is_twenty() -> None:
    result = news2(Vitals(respiratory_rate=30, spo2=98, on_oxygen=True, systolic_bp=80, heart_rate=140,
                          consciousness="U", temperature=34.0, spo2_scale=2))
    assert result.score == 20 and result.band == "high"
