"""The manager's aggregates and the compliance officer's views through the real API."""
from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import sqlalchemy as sa

from activities.storage import security_repo
from activities.storage.db import make_session_factory
from ledger.embedded import EmbeddedLedger
from ledger.model import AuditEvent

pytestmark = pytest.mark.integration
Auth = Callable[..., dict[str, str]]
MANAGER = ("manager-1", "manager")
COMPLIANCE = ("compliance-1", "compliance_officer")
MANAGER_PATHS = ("/api/v1/ops/now", "/api/v1/ops/occupancy", "/api/v1/ops/ed-queue", "/api/v1/ops/tasks/overdue",
                 "/api/v1/ops/journeys/stages", "/api/v1/ops/journeys", "/api/v1/ops/pharmacy",
                 "/api/v1/ops/imaging", "/api/v1/ops/alerts", "/api/v1/ops/forecast?hours=72")
COMPLIANCE_PATHS = ("/api/v1/ops/compliance/break-glass", "/api/v1/ops/compliance/anomalies",
                    "/api/v1/ops/compliance/ledger")


async def _admit(api: httpx.AsyncClient, auth: Auth, family: str, identifier: str, ward: str = "medical") -> dict:
    body = {"patient": {"identifier": identifier, "given": "Zorawar", "family": family, "birth_date": "1961-04-05",
                        "gender": "male"}, "ward": ward, "reason": "observation after a fall", "consent": True}
    r = await api.post("/api/v1/admissions", json=body, headers=auth("registration-1", "registration_clerk"))
    assert r.status_code == 202, r.text
    out = r.json()
    for _ in range(300):
        j = await api.get(f"/api/v1/journeys/{out['journey_id']}", headers=auth("attending-1", "attending_physician"))
        if j.status_code == 200 and j.json()["stage"] == "admitted":
            return out
        await asyncio.sleep(0.1)
    raise AssertionError(f"not admitted: {out}")


def _keys(obj: object) -> set[str]:
    if isinstance(obj, dict):
        return set(obj) | {k for v in obj.values() for k in _keys(v)}
    if isinstance(obj, list):
        return {k for v in obj for k in _keys(v)}
    return set()


async def test_manager_gets_deidentified_aggregates_only(api: httpx.AsyncClient, auth: Auth) -> None:
    family = f"Kapoorovic{uuid.uuid4().hex[:6]}"
    mrns = [f"MRN-OPS-{uuid.uuid4().hex[:8]}" for _ in range(2)]
    admitted = [await _admit(api, auth, family, mrn) for mrn in mrns]

    answers = {}
    for path in MANAGER_PATHS:
        r = await api.get(path, headers=auth(*MANAGER))
        assert r.status_code == 200, f"{path}: {r.status_code} {r.text}"
        answers[path] = r.json()
    text = json.dumps(answers)
    # No name, no identifier, no patient id anywhere in what the manager receives.
    assert family not in text and "Zorawar" not in text
    assert all(mrn not in text for mrn in mrns)
    assert all(a["patient_id"] not in text for a in admitted)
    assert not _keys(answers) & {"patient_id", "patient", "given", "family", "identifier", "identifiers", "name"}

    medical = next(w for w in answers["/api/v1/ops/occupancy"] if w["ward"] == "medical")
    assert medical["occupied"] >= 2 and medical["beds"] >= medical["occupied"] + medical["free"] - medical["free"]
    stages = {s["stage"]: s["journeys"] for s in answers["/api/v1/ops/journeys/stages"]}
    assert stages["admitted"] >= 2
    listed = {j["journey_id"]: j for j in answers["/api/v1/ops/journeys"]["journeys"]}
    for a in admitted:
        assert listed[a["journey_id"]]["stage"] == "admitted" and listed[a["journey_id"]]["ward"] == "medical"
        assert listed[a["journey_id"]]["temporal_path"].endswith(a["journey_id"])
    assert [q["acuity"] for q in answers["/api/v1/ops/ed-queue"]] == [f"ESI-{n}" for n in range(1, 6)]

    filtered = (await api.get("/api/v1/ops/journeys?stage=admitted&ward=medical", headers=auth(*MANAGER))).json()
    assert filtered["journeys"] and all(j["stage"] == "admitted" and j["ward"] == "medical"
                                        for j in filtered["journeys"])
    forecast = answers["/api/v1/ops/forecast?hours=72"]
    assert len(forecast["hours"]) == 72 and forecast["capacity_per_hour"] > 0
    assert all(h["p10"] <= h["expected"] <= h["p90"] for h in forecast["hours"])
    assert {s["shift"] for s in forecast["staffing"]} <= {"day", "evening", "night"}
    assert all(s["recommended_nurses_p90"] >= s["recommended_nurses"] for s in forecast["staffing"])


async def test_roles_are_enforced(api: httpx.AsyncClient, auth: Auth) -> None:
    assert (await api.get("/api/v1/ops/now")).status_code == 401
    for who in (("nurse-medical-1", "nurse"), ("attending-1", "attending_physician"), COMPLIANCE, ("admin-1", "admin")):
        r = await api.get("/api/v1/ops/now", headers=auth(*who))
        assert r.status_code == 403, f"{who}: {r.status_code}"
    for path in COMPLIANCE_PATHS:
        assert (await api.get(path, headers=auth(*MANAGER))).status_code == 403, path
        assert (await api.get(path, headers=auth("attending-1", "attending_physician"))).status_code == 403, path
    bad = await api.get("/api/v1/ops/journeys?stage=nowhere", headers=auth(*MANAGER))
    assert bad.status_code == 422 and "stage" in bad.json()["detail"]
    bad = await api.get("/api/v1/ops/forecast?hours=5", headers=auth(*MANAGER))
    assert bad.status_code == 422


async def test_compliance_views(api: httpx.AsyncClient, auth: Auth, ledger: EmbeddedLedger,
                                db_engine: sa.Engine) -> None:
    # A user who touched 30 distinct patients in the window is flagged.
    snooper = f"snoop-{uuid.uuid4().hex[:6]}"
    now = datetime.now(UTC)
    ledger.append_many([AuditEvent(event_id=uuid.uuid4().hex, recorded=now, actor=snooper, role="nurse", action="R",
                                   subtype="patient.read", outcome="0", resource_type="Patient",
                                   resource_id=f"p-{n}", patient_id=f"p-{uuid.uuid4().hex[:8]}", purpose="TREAT",
                                   decision="allow", reason="test", source="api") for n in range(30)])
    grant_id = str(uuid.uuid4())
    with make_session_factory(db_engine)() as s, s.begin():
        security_repo.add_grant(s, grant_id=grant_id, patient_id=f"p-{uuid.uuid4().hex[:8]}", user_id="attending-2",
                                role="attending_physician", reason="unconscious patient, no team reachable",
                                created_at=now - timedelta(hours=2), expires_at=now - timedelta(hours=1),
                                workflow_id=f"break-glass-{grant_id}")

    r = await api.get("/api/v1/ops/compliance/anomalies?hours=1&threshold=20", headers=auth(*COMPLIANCE))
    assert r.status_code == 200, r.text
    flagged = {u["actor"]: u for u in r.json()["users"] if u["flagged"]}
    assert flagged[snooper]["distinct_patients"] == 30 and "30 distinct patients" in flagged[snooper]["reasons"][0]

    r = await api.get("/api/v1/ops/compliance/break-glass", headers=auth(*COMPLIANCE))
    assert r.status_code == 200
    review = next(g for g in r.json()["reviews"] if g["grant_id"] == grant_id)
    assert review["review_status"] == "pending" and review["ended"] and "reason" not in review

    r = await api.get("/api/v1/ops/compliance/ledger", headers=auth(*COMPLIANCE))
    assert r.status_code == 200 and r.json()["ok"] is True and r.json()["head_signature_valid"] is True
    assert r.json()["tree_size"] >= 30
