"""NEWS2 (Royal College of Physicians, 2017), scored exactly as the published chart.

Deterministic code, not a model: the score is a clinical standard, so it must be
reproducible by hand from the chart. Temperature is read at the chart's resolution
(one decimal, half-up) before banding, so 35.04 reads as 35.0 just as a nurse would chart it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

Consciousness = Literal["A", "C", "V", "P", "U"]

LOW = "low"
LOW_MEDIUM = "low-medium"
MEDIUM = "medium"
HIGH = "high"


@dataclass(frozen=True)
class Vitals:
    """One set of bedside observations, in the chart's units."""

    respiratory_rate: int
    spo2: int
    on_oxygen: bool
    systolic_bp: int
    heart_rate: int
    consciousness: Consciousness
    temperature: float
    spo2_scale: int = 1


@dataclass(frozen=True)
class News2Result:
    """Aggregate score, clinical-risk band and each parameter's contribution."""

    score: int
    band: str
    parameter_scores: dict[str, int] = field(default_factory=dict)
    single_parameter_3: bool = False


def score_respiratory_rate(rr: int) -> int:
    """≤8 → 3, 9–11 → 1, 12–20 → 0, 21–24 → 2, ≥25 → 3."""
    if rr <= 8:
        return 3
    if rr <= 11:
        return 1
    if rr <= 20:
        return 0
    if rr <= 24:
        return 2
    return 3


def score_spo2_scale1(spo2: int) -> int:
    """Scale 1: ≤91 → 3, 92–93 → 2, 94–95 → 1, ≥96 → 0 (oxygen scored separately)."""
    if spo2 <= 91:
        return 3
    if spo2 <= 93:
        return 2
    if spo2 <= 95:
        return 1
    return 0


def score_spo2_scale2(spo2: int, on_oxygen: bool) -> int:
    """Scale 2 (hypercapnic respiratory failure, target 88–92%).

    ≤83 → 3, 84–85 → 2, 86–87 → 1, 88–92 → 0, ≥93 on air → 0; on oxygen 93–94 → 1,
    95–96 → 2, ≥97 → 3, because over-oxygenation is itself a hazard for these patients.
    """
    if spo2 <= 83:
        return 3
    if spo2 <= 85:
        return 2
    if spo2 <= 87:
        return 1
    if spo2 <= 92 or not on_oxygen:
        return 0
    if spo2 <= 94:
        return 1
    if spo2 <= 96:
        return 2
    return 3


def score_air_or_oxygen(on_oxygen: bool) -> int:
    """Supplemental oxygen → 2, air → 0."""
    return 2 if on_oxygen else 0


def score_systolic_bp(sbp: int) -> int:
    """≤90 → 3, 91–100 → 2, 101–110 → 1, 111–219 → 0, ≥220 → 3."""
    if sbp <= 90:
        return 3
    if sbp <= 100:
        return 2
    if sbp <= 110:
        return 1
    if sbp <= 219:
        return 0
    return 3


def score_pulse(hr: int) -> int:
    """≤40 → 3, 41–50 → 1, 51–90 → 0, 91–110 → 1, 111–130 → 2, ≥131 → 3."""
    if hr <= 40:
        return 3
    if hr <= 50:
        return 1
    if hr <= 90:
        return 0
    if hr <= 110:
        return 1
    if hr <= 130:
        return 2
    return 3


def score_consciousness(level: str) -> int:
    """Alert → 0; new Confusion, Voice, Pain or Unresponsive (CVPU) → 3."""
    return 0 if level == "A" else 3


def chart_temperature(temp: float) -> Decimal:
    """Temperature at the chart's one-decimal resolution (half-up)."""
    return Decimal(repr(float(temp))).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def score_temperature(temp: float) -> int:
    """≤35.0 → 3, 35.1–36.0 → 1, 36.1–38.0 → 0, 38.1–39.0 → 1, ≥39.1 → 2."""
    t = chart_temperature(temp)
    if t <= Decimal("35.0"):
        return 3
    if t <= Decimal("36.0"):
        return 1
    if t <= Decimal("38.0"):
        return 0
    if t <= Decimal("39.0"):
        return 1
    return 2


def band_for(score: int, single_parameter_3: bool) -> str:
    """RCP clinical-risk bands: ≥7 high, 5–6 medium, any single 3 low-medium, else low."""
    if score >= 7:
        return HIGH
    if score >= 5:
        return MEDIUM
    if single_parameter_3:
        return LOW_MEDIUM
    return LOW


def news2(vitals: Vitals) -> News2Result:
    """Score a set of observations on the NEWS2 chart."""
    if vitals.spo2_scale == 2:
        spo2_score = score_spo2_scale2(vitals.spo2, vitals.on_oxygen)
    else:
        spo2_score = score_spo2_scale1(vitals.spo2)
    scores = {
        "respiratory_rate": score_respiratory_rate(vitals.respiratory_rate),
        "spo2": spo2_score,
        "air_or_oxygen": score_air_or_oxygen(vitals.on_oxygen),
        "systolic_bp": score_systolic_bp(vitals.systolic_bp),
        "heart_rate": score_pulse(vitals.heart_rate),
        "consciousness": score_consciousness(vitals.consciousness),
        "temperature": score_temperature(vitals.temperature),
    }
    total = sum(scores.values())
    single3 = any(v == 3 for v in scores.values())
    return News2Result(score=total, band=band_for(total, single3), parameter_scores=scores,
                       single_parameter_3=single3)
