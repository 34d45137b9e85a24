"""Safety rules the ESI model can never override downward, and the rules-only baseline.

The rules give a ceiling: the highest (least urgent) ESI number allowed. The model's
suggestion may be more urgent than the ceiling, never less. Danger-zone vital signs follow
the ESI v4 handbook's age bands (decision point D).
"""
from __future__ import annotations

from dataclasses import dataclass

from ml.triage.news2 import News2Result
from ml.triage.schema import TriageInput

# ESI v4 danger-zone heart and respiratory rates by age (years): (max age, HR above, RR above).
_DANGER_ZONE = [(0, 180, 50), (2, 160, 40), (7, 140, 30), (200, 100, 20)]
_SHOCK_FLAGS = {"anaphylaxis", "major_haemorrhage", "respiratory_distress"}


@dataclass(frozen=True)
class RuleOutcome:
    """Red-flag codes raised and the ESI ceiling they impose (None = no ceiling)."""

    flags: list[str]
    ceiling: int | None


def danger_zone(req: TriageInput) -> list[str]:
    """Danger-zone vital signs for age: heart rate, respiratory rate, SpO2 < 92%."""
    out = []
    for max_age, hr, rr in _DANGER_ZONE:
        if req.age <= max_age:
            if req.heart_rate > hr:
                out.append("danger_zone_hr")
            if req.respiratory_rate > rr:
                out.append("danger_zone_rr")
            break
    if req.spo2 < 92 and req.spo2_scale == 1:
        out.append("danger_zone_spo2")
    return out


def safety_rules(req: TriageInput, score: News2Result, complaint_flags: dict[str, int]) -> RuleOutcome:
    """Apply the non-negotiable floors of acuity.

    Consciousness P/U or a complaint of arrest, apnoea, airway obstruction or active seizure → ESI 1;
    a life-threatening complaint with shock (SBP ≤ 90 or SpO2 < 90) → ESI 1; NEWS2 ≥ 7, SpO2 < 90 or
    another life-threatening complaint → ESI ≤ 2.
    """
    flags: dict[str, int] = dict(complaint_flags)
    if req.consciousness in ("P", "U"):
        flags[f"avpu_{req.consciousness.lower()}"] = 1
    if score.score >= 7:
        flags["news2_high"] = 2
    if req.spo2 < 90:
        flags["spo2_lt_90"] = 2
    if _SHOCK_FLAGS & complaint_flags.keys() and (req.systolic_bp <= 90 or req.spo2 < 90):
        flags["shock"] = 1
    ceiling = min(flags.values()) if flags else None
    info = []
    if score.single_parameter_3:
        info.append("news2_single_3")
    if score.band == "medium":
        info.append("news2_medium")
    if req.consciousness in ("C", "V"):
        info.append(f"avpu_{req.consciousness.lower()}")
    info.extend(danger_zone(req))
    return RuleOutcome(flags=sorted(flags) + info, ceiling=ceiling)


def apply_ceiling(model_esi: int, ceiling: int | None) -> int:
    """The model may raise acuity (smaller ESI number), never lower it past the rules."""
    return model_esi if ceiling is None else min(model_esi, ceiling)


def rules_only_esi(outcome: RuleOutcome, score: News2Result) -> int:
    """Baseline without the model: the ceiling, else ESI 2 on NEWS2 ≥ 5, any single 3 or danger
    zone, else ESI 3 (the safe default when resources cannot be judged)."""
    if outcome.ceiling is not None:
        return outcome.ceiling
    if score.score >= 5 or score.single_parameter_3 or any(f.startswith("danger_zone") for f in outcome.flags):
        return 2
    return 3
