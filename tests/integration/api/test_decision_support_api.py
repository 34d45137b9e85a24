"""Triage scoring and the arrival forecast through the API: authorized, audited, validated."""
from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from ledger.embedded import EmbeddedLedger

pytestmark = pytest.mark.integration
Auth = Callable[..., dict[str, str]]

VITALS = {"age": 67, "complaint": "crushing chest pain radiating to left arm", "respiratory_rate": 24,
          "spo2": 91, "spo2_scale": 1, "on_oxygen": True, "systolic_bp": 95, "heart_rate": 125,
          "consciousness": "A", "temperature": 38.4}


async def test_triage_score(api: httpx.AsyncClient, auth: Auth, ledger: EmbeddedLedger) -> None:
    size = ledger.size()
    r = await api.post("/api/v1/triage/score", json=VITALS, headers=auth("triage-nurse-1", "triage_nurse"))
    assert r.status_code == 200, r.text
    out = r.json()
    # RR 24 → 2, SpO2 91 (scale 1, ≤91) → 3, oxygen → 2, SBP 95 → 2, HR 125 → 2, alert → 0, 38.4 → 1.
    assert out["news2"] == 12 and out["news2_band"] == "high"
    assert out["esi_suggested"] <= 2 and out["red_flags"] and out["model_version"]
    assert out["label"] == "decision support, not diagnosis"
    assert ledger.size() == size + 1
    [entry] = [e.event for e in ledger.query(actor="triage-nurse-1") if e.event.subtype == "triage.score"][-1:]
    assert entry.decision == "allow" and entry.patient_id is None


@pytest.mark.parametrize(("change", "field"), [({"spo2": 130}, "spo2"), ({"consciousness": "X"}, "consciousness"),
                                               ({"respiratory_rate": -1}, "respiratory_rate"),
                                               ({"complaint": ""}, "complaint"), ({"pulse": 80}, "pulse")])
async def test_triage_bad_input_names_the_field(api: httpx.AsyncClient, auth: Auth, change: dict, field: str) -> None:
    r = await api.post("/api/v1/triage/score", json=VITALS | change, headers=auth("triage-nurse-1", "triage_nurse"))
    assert r.status_code == 422 and r.json()["detail"].startswith(field), r.text


async def test_triage_roles(api: httpx.AsyncClient, auth: Auth) -> None:
    assert (await api.post("/api/v1/triage/score", json=VITALS,
                           headers=auth("attending-1", "attending_physician"))).status_code == 200
    assert (await api.post("/api/v1/triage/score", json=VITALS,
                           headers=auth("billing-1", "billing_clerk"))).status_code == 403


async def test_forecast_for_managers_only(api: httpx.AsyncClient, auth: Auth) -> None:
    r = await api.post("/api/v1/forecast/arrivals", json={"hours": 48}, headers=auth("manager-1", "manager"))
    assert r.status_code == 200, r.text
    hours = r.json()["hours"]
    assert len(hours) == 48
    assert all(0 <= h["p10"] <= h["expected"] <= h["p90"] for h in hours)
    assert (await api.post("/api/v1/forecast/arrivals", json={"hours": 99},
                           headers=auth("manager-1", "manager"))).status_code == 422
    assert (await api.post("/api/v1/forecast/arrivals", json={},
                           headers=auth("attending-1", "attending_physician"))).status_code == 403
