"""The console's server-side arithmetic: staffing from ratios, surge assessment, access anomalies."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime

from activities.surge import assess
from api.routes.ops_compliance import anomalies
from api.routes.ops_staffing import nurses_needed, shift_of, staffing
from ledger.model import AuditEvent


def _hours(start_hour: int, n: int, expected: float, p90: float) -> list[dict]:
    return [{"hour": datetime(2026, 11, 25, (start_hour + k) % 24, tzinfo=UTC).isoformat(), "expected": expected,
             "p10": expected / 2, "p90": p90} for k in range(n)]


def test_shifts() -> None:
    assert shift_of(datetime(2026, 11, 25, 7, tzinfo=UTC))[0] == "day"
    assert shift_of(datetime(2026, 11, 25, 22, tzinfo=UTC))[0] == "evening"
    name, start = shift_of(datetime(2026, 11, 25, 3, tzinfo=UTC))
    assert name == "night" and start == datetime(2026, 11, 24, 23, tzinfo=UTC)


def test_nurses_needed_rounds_up_and_empty_wards_need_none() -> None:
    assert nurses_needed(0, 4) == 0
    assert nurses_needed(0.4, 4) == 1
    assert nurses_needed(8, 4) == 2 and nurses_needed(8.1, 4) == 3


def test_staffing_uses_littles_law_for_the_ed_and_census_elsewhere() -> None:
    occupancy = [{"ward": "emergency", "active_stays": 3}, {"ward": "medical", "active_stays": 11}]
    rows = staffing(_hours(7, 8, expected=3.0, p90=5.0), occupancy, {"emergency": 1, "medical": 2}, ed_stay_hours=4)
    ed = next(r for r in rows if r["ward"] == "emergency")
    assert ed["shift"] == "day" and ed["expected_patients"] == 12.0 and ed["recommended_nurses"] == 3
    assert ed["expected_patients_p90"] == 20.0 and ed["recommended_nurses_p90"] == 5 and ed["rostered_nurses"] == 1
    med = next(r for r in rows if r["ward"] == "medical")
    assert med["expected_patients"] == 11 and med["patients_per_nurse"] == 5 and med["recommended_nurses"] == 3


def test_surge_assessment() -> None:
    hours = _hours(0, 24, expected=2.0, p90=3.0)
    hours[18]["expected"] = 4.0
    a = assess(hours, "emergency", datetime(2026, 11, 25, tzinfo=UTC), capacity=2.5)
    assert a.exceeded and a.hours_over == [hours[18]["hour"]] and a.peak_expected == 4.0
    calm = assess(_hours(0, 24, expected=2.0, p90=3.0), "emergency", datetime(2026, 11, 25, tzinfo=UTC), 2.5)
    assert not calm.exceeded and calm.expected_total == 48.0


def _event(actor: str, patient: str | None, decision: str = "allow", source: str = "api") -> AuditEvent:
    return AuditEvent(event_id=uuid.uuid4().hex, recorded=datetime.now(UTC), actor=actor, role="nurse", action="R",
                      subtype="patient.read", outcome="0" if decision == "allow" else "4", resource_type="Patient",
                      resource_id=patient, patient_id=patient, purpose="TREAT", decision=decision, reason="r",
                      source=source)


def test_anomalies_flag_bulk_readers_peer_outliers_and_denials() -> None:
    events = [_event("bulk", f"p{n}") for n in range(25)]
    events += [_event(f"peer{k}", f"p{n}") for k in range(4) for n in range(2)]
    events += [_event("outlier", f"p{n}") for n in range(12)]
    events += [_event("denied", "p1", decision="deny") for _ in range(5)]
    events += [_event("hms-worker", f"p{n}", source="worker") for n in range(100)]
    users = {u["actor"]: u for u in anomalies(events, threshold=20)}
    assert "hms-worker" not in users
    assert users["bulk"]["flagged"] and users["bulk"]["distinct_patients"] == 25
    assert users["outlier"]["flagged"] and "peer median" in users["outlier"]["reasons"][0]
    assert users["denied"]["flagged"] and users["denied"]["denials"] == 5
    assert not users["peer0"]["flagged"]
    assert [u["actor"] for u in anomalies(events, 20)][:1] == ["bulk"]
