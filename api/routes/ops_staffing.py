"""Staffing per shift from nurse-to-patient ratios: pure functions over counts (no patient data).

The ratios are the hospital's planning targets (patients per nurse) by ward and shift;
shifts are 07–15 (day), 15–23 (evening) and 23–07 (night) in UTC. The ED's expected
census in a shift follows Little's law: arrivals per hour × hours a patient stays.
Inpatient wards keep today's census (occupied beds) through the horizon.
"""
from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

#: Patients per nurse, by ward and shift.
RATIOS: dict[str, dict[str, int]] = {
    "emergency": {"day": 4, "evening": 4, "night": 5},
    "medical": {"day": 5, "evening": 6, "night": 8},
    "surgical": {"day": 5, "evening": 6, "night": 8},
    "icu": {"day": 2, "evening": 2, "night": 2},
    "psychiatry": {"day": 6, "evening": 6, "night": 8},
}
DEFAULT_RATIO = {"day": 5, "evening": 6, "night": 8}
SHIFTS = (("night", 23), ("day", 7), ("evening", 15))
SHIFT_HOURS = 8


def shift_of(ts: datetime) -> tuple[str, datetime]:
    """The shift an hour belongs to and when that shift started."""
    h = ts.hour
    name, start_hour = ("day", 7) if 7 <= h < 15 else ("evening", 15) if 15 <= h < 23 else ("night", 23)
    start = ts.replace(hour=start_hour, minute=0, second=0, microsecond=0)
    if name == "night" and h < 7:
        start -= timedelta(days=1)
    return name, start


def nurses_needed(patients: float, ratio: int) -> int:
    """At least one nurse on a ward with patients; none on an empty ward."""
    return 0 if patients <= 0 else max(1, math.ceil(round(patients, 6) / ratio))


def staffing(forecast_hours: list[dict[str, Any]], occupancy: list[dict[str, Any]], rostered: dict[str, int],
             ed_stay_hours: float, ed_ward: str = "emergency") -> list[dict[str, Any]]:
    """One recommendation per (shift, ward) for each shift the forecast covers."""
    shifts: dict[datetime, dict[str, Any]] = {}
    for h in forecast_hours:
        name, start = shift_of(datetime.fromisoformat(h["hour"]))
        acc = shifts.setdefault(start, {"shift": name, "start": start, "expected": 0.0, "p90": 0.0, "hours": 0})
        acc["expected"] += h["expected"]
        acc["p90"] += h["p90"]
        acc["hours"] += 1
    out = []
    for start in sorted(shifts):
        acc = shifts[start]
        for ward in occupancy:
            w = ward["ward"]
            ratio = RATIOS.get(w, DEFAULT_RATIO)[acc["shift"]]
            if w == ed_ward:  # Little's law over the hours of this shift the forecast covers
                census = acc["expected"] / acc["hours"] * ed_stay_hours
                census_p90 = acc["p90"] / acc["hours"] * ed_stay_hours
            else:
                census = census_p90 = float(ward["active_stays"])
            out.append({"shift": acc["shift"], "start": start.isoformat(), "ward": w,
                        "expected_patients": round(census, 1), "expected_patients_p90": round(census_p90, 1),
                        "patients_per_nurse": ratio, "recommended_nurses": nurses_needed(census, ratio),
                        "recommended_nurses_p90": nurses_needed(census_p90, ratio),
                        "rostered_nurses": int(rostered.get(w, 0))})
    return out
