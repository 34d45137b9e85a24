"""Canned API answers for the console's AppTests (the shapes of api/routes/operations.py)."""
from __future__ import annotations

from typing import Any

from console.api import ApiUnavailable

HOURS = [{"hour": f"2026-11-25T{h:02d}:00:00+00:00", "expected": 2.0 + h % 5, "p10": 1.0, "p90": 4.0 + h % 5}
         for h in range(24)]
ANSWERS: dict[str, Any] = {
    "/api/v1/ops/now": {
        "at": "2026-11-25T10:00:00+00:00",
        "occupancy": [{"ward": "emergency", "ward_name": "ED", "beds": 10, "occupied": 7, "free": 3, "active_stays": 8},
                      {"ward": "medical", "ward_name": "Medical", "beds": 12, "occupied": 5, "free": 7,
                       "active_stays": 5}],
        "ed_queue": [{"acuity": f"ESI-{n}", "waiting": n} for n in range(1, 6)],
        "journeys_by_stage": [{"stage": "admission", "journeys": 2}, {"stage": "admitted", "journeys": 12},
                              {"stage": "discharging", "journeys": 1}, {"stage": "discharged", "journeys": 4}],
        "overdue_tasks": [{"type": "medication-administration", "ward": "medical", "overdue": 3}],
        "surge_alerts": [{"id": "surge-alert-emergency-2026112511", "status": "open", "ward": "emergency",
                          "created_at": "2026-11-25T10:00:00+00:00", "due": "2026-11-25T11:00:00+00:00",
                          "details": {"hours_over": 3, "peak_expected": 4.2, "peak_hour": "2026-11-25T19:00:00+00:00",
                                      "capacity_per_hour": 2.5}}]},
    "/api/v1/ops/forecast": {
        "start": HOURS[0]["hour"], "hours": HOURS, "band": "p10-p90", "capacity_per_hour": 2.5, "ed_stay_hours": 4.0,
        "hours_over_capacity": [h["hour"] for h in HOURS if h["expected"] > 2.5],
        "staffing": [{"shift": s, "start": f"2026-11-25T{t:02d}:00:00+00:00", "ward": w, "expected_patients": 9.0,
                      "expected_patients_p90": 14.0, "patients_per_nurse": 4, "recommended_nurses": 3,
                      "recommended_nurses_p90": 4, "rostered_nurses": 1}
                     for s, t in (("day", 7), ("evening", 15)) for w in ("emergency", "medical")],
        "label": "decision support, not diagnosis"},
    "/api/v1/ops/journeys": {"count": 2, "journeys": [
        {"journey_id": "journey-aaa", "stage": "admitted", "ward": "medical", "acuity": "ESI-3",
         "hours_since_start": 5.5, "temporal_path": "/namespaces/default/workflows/journey-aaa", "temporal_url": None},
        {"journey_id": "journey-bbb", "stage": "admission", "ward": "emergency", "acuity": None,
         "hours_since_start": 0.2, "temporal_path": "/namespaces/default/workflows/journey-bbb", "temporal_url": None}]},
    "/api/v1/ops/pharmacy": {"orders_by_status": [{"status": "active", "orders": 4}, {"status": "completed", "orders": 9}],
                             "verification": {"open": 2, "overdue": 1}, "doses": {"open": 6, "overdue": 2},
                             "orders_per_day": [{"day": "2026-11-24", "count": 5}, {"day": "2026-11-25", "count": 8}]},
    "/api/v1/ops/imaging": {"orders_by_status": [{"status": "active", "modality": "CR", "orders": 3}],
                            "reports": {"open": 3, "overdue": 1},
                            "orders_per_day": [{"day": "2026-11-25", "count": 3}],
                            "reports_per_day": [{"day": "2026-11-25", "count": 2}]},
    "/api/v1/ops/compliance/break-glass": {"pending": 1, "escalated": 1, "reviews": [
        {"grant_id": "g-1", "holder": "attending-2", "role": "attending_physician", "review_status": "pending",
         "created_at": "2026-11-25T08:00:00+00:00", "expires_at": "2026-11-25T09:00:00+00:00", "ended": True,
         "hours_open": 2.0},
        {"grant_id": "g-2", "holder": "nurse-medical-1", "role": "nurse", "review_status": "escalated",
         "created_at": "2026-11-24T08:00:00+00:00", "expires_at": "2026-11-24T09:00:00+00:00", "ended": True,
         "hours_open": 26.0}]},
    "/api/v1/ops/compliance/anomalies": {"since": "2026-11-24T10:00:00+00:00", "hours": 24, "threshold": 20,
                                         "entries_scanned": 140, "truncated": False, "flagged": 1, "users": [
        {"actor": "snoop-1", "role": "nurse", "accesses": 60, "denials": 0, "break_glass": 0, "distinct_patients": 45,
         "flagged": True, "reasons": ["read 45 distinct patients (threshold 20)"]},
        {"actor": "attending-1", "role": "attending_physician", "accesses": 30, "denials": 1, "break_glass": 0,
         "distinct_patients": 6, "flagged": False, "reasons": []}]},
    "/api/v1/ops/compliance/ledger": {"ok": True, "tree_size": 140, "problems": [], "problem_count": 0,
                                      "head_signature_valid": True, "verified_at": "2026-11-25T10:00:00+00:00",
                                      "head": {"tree_size": 140, "root_hash": "ab" * 32,
                                               "timestamp": "2026-11-25T10:00:00Z", "key_id": "k", "signature": "00"}},
}


class FakeApi:
    """Answers from ``ANSWERS``; records every call; ``fail`` makes every call refuse like the API would."""

    def __init__(self, fail: str | None = None, answers: dict[str, Any] | None = None) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.fail = fail
        self.answers = answers or ANSWERS

    def get(self, path: str, **params: Any) -> Any:
        self.calls.append((path, params))
        if self.fail:
            raise ApiUnavailable(self.fail)
        return self.answers[path]
