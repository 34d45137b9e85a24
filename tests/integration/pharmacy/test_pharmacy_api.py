"""The pharmacy over the task API: order → verify → dispense → administer, with policy and audit."""
from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest
import sqlalchemy as sa

from ledger.embedded import EmbeddedLedger
from tests.integration.api.test_admissions_api import admission_body, admitted
from tests.integration.pharmacy.conftest import on_hand

pytestmark = pytest.mark.integration
Auth = Callable[..., dict[str, str]]
ORDER = {"drug_code": "17767", "dose": 5, "unit": "mg", "route": "PO", "frequency_hours": 24, "doses": 1}


async def _admit(api: httpx.AsyncClient, auth: Auth) -> dict:
    r = await api.post("/api/v1/admissions", json=admission_body(), headers=auth("registration-1", "registration_clerk"))
    assert r.status_code == 202, r.text
    return await admitted(api, auth, r.json()["journey_id"])


async def _task(api: httpx.AsyncClient, headers: dict[str, str], patient_id: str, ttype: str) -> dict:
    for _ in range(300):
        r = await api.get("/api/v1/tasks", params={"patient": patient_id}, headers=headers)
        assert r.status_code == 200, r.text
        found = [t for t in r.json() if t["type"] == ttype]
        if found:
            return found[0]
        await asyncio.sleep(0.1)
    raise AssertionError(f"no {ttype} task")


async def test_order_verify_dispense_administer(api: httpx.AsyncClient, auth: Auth, db_engine: sa.Engine,
                                               ledger: EmbeddedLedger) -> None:
    journey = await _admit(api, auth)
    patient_id, journey_id = journey["patient_id"], journey["journey_id"]
    attending, pharmacist = auth("attending-1", "attending_physician"), auth("pharmacist-1", "pharmacist")
    nurse, billing = auth("nurse-medical-1", "nurse"), auth("billing-1", "billing_clerk")
    before = on_hand(db_engine, "17767")

    r = await api.post(f"/api/v1/patients/{patient_id}/allergies", json={"code": "penicillin", "criticality": "high"},
                       headers=attending)
    assert r.status_code == 201, r.text
    assert (await api.post(f"/api/v1/patients/{patient_id}/allergies", json={"code": "peanuts"},
                           headers=attending)).status_code == 422
    allergies = (await api.get(f"/api/v1/patients/{patient_id}/allergies", headers=pharmacist)).json()
    assert [(a["code"], a["is_class"]) for a in allergies] == [("penicillin", True)]

    url = f"/api/v1/journeys/{journey_id}/medication-orders"
    for bad, field in (({**ORDER, "dose": -1}, "dose"), ({**ORDER, "drug_code": "999999"}, "drug_code"),
                       ({**ORDER, "route": "IV"}, "route"), ({**ORDER, "duration_days": 2}, "exactly one"),
                       ({**ORDER, "unit": "g"}, "unit")):
        r = await api.post(url, json=bad, headers=attending)
        assert r.status_code == 422 and field in r.json()["detail"], (bad, r.text)
    assert (await api.post(url, json=ORDER, headers=nurse)).status_code == 403
    assert (await api.post(url, json=ORDER, headers=auth("attending-2", "attending_physician"))).status_code == 403
    r = await api.post(url, json=ORDER, headers=attending)
    assert r.status_code == 202, r.text
    order_id = r.json()["order_id"]
    assert r.json()["workflow_id"] == f"pharmacy-{order_id}"

    task = await _task(api, pharmacist, patient_id, "medication-verification")
    worklist = (await api.get("/api/v1/pharmacy/worklist", headers=pharmacist)).json()
    mine = [w for w in worklist if w["order_id"] == order_id]
    assert len(mine) == 1 and mine[0]["drug_name"] == "amlodipine" and mine[0]["requires_override"] is False
    assert (await api.get("/api/v1/pharmacy/worklist", headers=nurse)).status_code == 403
    assert (await api.post(f"/api/v1/tasks/{task['id']}/complete", json={"decision": "approve", "extra": 1},
                           headers=pharmacist)).status_code == 422
    ok = await api.post(f"/api/v1/tasks/{task['id']}/complete", json={"decision": "approve"}, headers=pharmacist)
    assert ok.status_code == 200 and ok.json()["result"]["decision"] == "approve"
    twice = await api.post(f"/api/v1/tasks/{task['id']}/complete", json={"decision": "approve"}, headers=pharmacist)
    assert twice.status_code == 409

    dose = await _task(api, nurse, patient_id, "medication-administration")
    assert dose["ward"] == "medical" and dose["details"]["dose_number"] == 1
    assert on_hand(db_engine, "17767") == before - 1
    bad = await api.post(f"/api/v1/tasks/{dose['id']}/complete", json={"status": "refused"}, headers=nurse)
    assert bad.status_code == 422 and "reason" in bad.json()["detail"]
    other_ward = await api.post(f"/api/v1/tasks/{dose['id']}/complete", json={"status": "given"},
                                headers=auth("nurse-psychiatry-1", "nurse"))
    assert other_ward.status_code == 403
    given = await api.post(f"/api/v1/tasks/{dose['id']}/complete", json={"status": "given"}, headers=nurse)
    assert given.status_code == 200 and given.json()["result"]["status"] == "given"
    again = await api.post(f"/api/v1/tasks/{dose['id']}/complete", json={"status": "given"}, headers=nurse)
    assert again.status_code == 409

    for _ in range(300):
        record = (await api.get(f"/api/v1/patients/{patient_id}/mar", headers=nurse)).json()
        [entry] = [o for o in record["orders"] if o["order_id"] == order_id]
        if entry["status"] == "completed":
            break
        await asyncio.sleep(0.1)
    assert entry["status"] == "completed"
    assert [(a["dose_number"], a["status"], a["recorded_by"]) for a in entry["administrations"]] == [
        (1, "given", "nurse-medical-1")]
    assert (await api.get(f"/api/v1/patients/{patient_id}/mar", headers=attending)).status_code == 200
    denied = await api.get(f"/api/v1/patients/{patient_id}/mar", headers=billing)
    assert denied.status_code == 403
    assert (await api.get(f"/api/v1/patients/{patient_id}/mar",
                          headers=auth("attending-2", "attending_physician"))).status_code == 403
    entries = [e.event for e in ledger.query(patient_id=patient_id)]
    assert ("medication.mar.read", "deny") in {(e.subtype, e.decision) for e in entries}
    assert {"medication.order.create", "medication.dispense", "medication.administration.given"} <= {
        e.subtype for e in entries}
    assert (await api.post(f"/api/v1/medication-orders/{order_id}/cancel", json={"reason": "done"},
                           headers=attending)).status_code == 409
    await api.post(f"/api/v1/journeys/{journey_id}/discharge", json={}, headers=attending)


async def test_cancel_order_over_the_api_returns_stock(api: httpx.AsyncClient, auth: Auth,
                                                       db_engine: sa.Engine) -> None:
    journey = await _admit(api, auth)
    attending, pharmacist = auth("attending-1", "attending_physician"), auth("pharmacist-1", "pharmacist")
    before = on_hand(db_engine, "40790")
    r = await api.post(f"/api/v1/journeys/{journey['journey_id']}/medication-orders", headers=attending,
                       json={"drug_code": "40790", "dose": 40, "unit": "mg", "route": "PO", "frequency_hours": 24,
                             "duration_days": 5})
    assert r.status_code == 202, r.text
    order_id = r.json()["order_id"]
    task = await _task(api, pharmacist, journey["patient_id"], "medication-verification")
    assert (await api.post(f"/api/v1/tasks/{task['id']}/complete", json={"decision": "approve"},
                           headers=pharmacist)).status_code == 200
    await _task(api, auth("nurse-medical-1", "nurse"), journey["patient_id"], "medication-administration")
    assert on_hand(db_engine, "40790") == before - 5
    url = f"/api/v1/medication-orders/{order_id}/cancel"
    assert (await api.post(url, json={"reason": ""}, headers=attending)).status_code == 422
    assert (await api.post(url, json={"reason": "stop"}, headers=pharmacist)).status_code == 403
    done = await api.post(url, json={"reason": "switched to IV"}, headers=attending)
    assert done.status_code == 200, done.text
    assert done.json() == {"order_id": order_id, "status": "cancelled", "returned_units": 5, "doses_given": 0}
    assert on_hand(db_engine, "40790") == before
    order = (await api.get(f"/api/v1/medication-orders/{order_id}", headers=pharmacist)).json()
    assert order["status"] == "cancelled"
    assert (await api.post(url, json={"reason": "again"}, headers=attending)).status_code == 409
    assert on_hand(db_engine, "40790") == before
    await api.post(f"/api/v1/journeys/{journey['journey_id']}/discharge", json={}, headers=attending)
