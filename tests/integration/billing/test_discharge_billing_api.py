"""Discharge and billing through the task API: roles, payload checks, the bed, the invoice, the summary."""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal

import httpx
import pytest
import sqlalchemy as sa
from fhir.resources.R4B.composition import Composition
from temporalio.testing import ActivityEnvironment

from activities.billing import BillingActivities
from activities.billing_tariff import load_tariff
from activities.storage.db import make_session_factory
from ledger.embedded import EmbeddedLedger
from tests.integration.api.test_admissions_api import admission_body, admitted
from tests.integration.billing.helpers import bed_holder, eventually
from workflows.billing_contracts import ChargeInput
from workflows.contracts import AuditContext

pytestmark = pytest.mark.integration
Auth = Callable[..., dict[str, str]]


async def inbox(api: httpx.AsyncClient, headers: dict[str, str], role: str, patient: str, kind: str) -> dict:
    for _ in range(300):
        r = await api.get("/api/v1/tasks", params={"role": role, "patient": patient}, headers=headers)
        assert r.status_code == 200, r.text
        found = [t for t in r.json() if t["type"] == kind]
        if found:
            return found[0]
        await asyncio.sleep(0.1)
    raise AssertionError(f"no open {kind} task for {role}")


async def test_discharge_and_billing_through_the_api(api: httpx.AsyncClient, auth: Auth, db_engine: sa.Engine,
                                                     ledger: EmbeddedLedger) -> None:
    r = await api.post("/api/v1/admissions", json=admission_body(), headers=auth("registration-1",
                                                                                  "registration_clerk"))
    assert r.status_code == 202, r.text
    journey_id, patient_id, encounter_id = (r.json()[k] for k in ("journey_id", "patient_id", "encounter_id"))
    journey = await admitted(api, auth, journey_id)
    bed_id = journey["bed_id"]
    ActivityEnvironment().run(BillingActivities(make_session_factory(db_engine), ledger).record_charge, ChargeInput(
        audit=AuditContext(journey_id=journey_id, requested_by="radiologist-1"),
        idempotency_key=f"imaging:{encounter_id}:api-study", encounter_id=encounter_id, patient_id=patient_id,
        code="IMG-MR", source="imaging", source_id="api-study"))

    attending, other, nurse, billing = (auth("attending-1", "attending_physician"),
                                        auth("attending-2", "attending_physician"), auth("nurse-medical-1", "nurse"),
                                        auth("billing-1", "billing_clerk"))
    plan = f"/api/v1/journeys/{journey_id}/discharge-plan"
    assert (await api.post(plan, headers=billing)).status_code == 403
    assert (await api.post(plan, headers=other)).status_code == 403
    assert (await api.post(plan, headers=nurse)).status_code == 403
    r = await api.post(plan, headers=attending)
    assert r.status_code == 202 and r.json()["status"] == "started", r.text
    assert (await api.post(plan, headers=attending)).json()["status"] == "refreshed"

    med = await inbox(api, attending, "attending_physician", patient_id, "medication-reconciliation")
    bad = await api.post(f"/api/v1/tasks/{med['id']}/complete", json={"decisions": {"rx-x": "continue"}},
                         headers=attending)
    assert bad.status_code == 422 and "payload.decisions" in bad.json()["detail"]
    ok = await api.post(f"/api/v1/tasks/{med['id']}/complete", json={"decisions": {}}, headers=attending)
    assert ok.status_code == 200, ok.text
    follow = await inbox(api, attending, "attending_physician", patient_id, "follow-up")
    bad = await api.post(f"/api/v1/tasks/{follow['id']}/complete", json={"date": "soon"}, headers=attending)
    assert bad.status_code == 422 and "payload.date" in bad.json()["detail"]
    assert (await api.post(f"/api/v1/tasks/{follow['id']}/complete", json={"required": False},
                           headers=attending)).status_code == 200

    cleaning = await inbox(api, nurse, "nurse", patient_id, "bed-cleaning")
    assert cleaning["details"] == {"bed_id": bed_id} and bed_holder(db_engine, bed_id) == encounter_id
    url = f"/api/v1/tasks/{cleaning['id']}/complete"
    assert (await api.post(url, json={"cleaned": True}, headers=auth("nurse-psychiatry-1", "nurse"))).status_code \
        == 403
    assert (await api.post(url, json={}, headers=nurse)).status_code == 422
    done = await api.post(url, json={"cleaned": True}, headers=nurse)
    assert done.status_code == 200 and done.json()["result"] == {"bed_id": bed_id, "status": "available"}
    assert bed_holder(db_engine, bed_id) is None

    summary_url = f"/api/v1/journeys/{journey_id}/discharge-summary"
    summary = await api.get(summary_url, headers=attending)
    assert summary.status_code == 200 and Composition.model_validate(summary.json()).status == "final"
    assert (await api.get(summary_url, headers=billing)).status_code == 403
    assert (await api.get(summary_url, headers=other)).status_code == 403

    settle = await inbox(api, billing, "billing_clerk", patient_id, "billing-settlement")
    tariff = load_tariff()
    expected = tariff.price("IMG-MR", 1) + tariff.price("BED-DAY-GENERAL", 1)
    charges = await api.get(f"/api/v1/encounters/{encounter_id}/charges", headers=billing)
    assert charges.status_code == 200 and Decimal(charges.json()["total"]) == expected
    assert len(charges.json()["charges"]) == 2
    assert (await api.get(f"/api/v1/encounters/{encounter_id}/charges", headers=nurse)).status_code == 403
    invoice = await api.get(f"/api/v1/invoices/{settle['details']['invoice_id']}", headers=billing)
    claim = await api.get(f"/api/v1/claims/{settle['details']['claim_id']}", headers=billing)
    assert invoice.status_code == 200 and claim.status_code == 200
    assert Decimal(invoice.json()["total"]) == Decimal(claim.json()["total"]) == expected
    assert (await api.get(f"/api/v1/invoices/{settle['details']['invoice_id']}", headers=nurse)).status_code == 403
    assert (await api.get("/api/v1/invoices/invoice-unknown", headers=billing)).status_code == 404

    url = f"/api/v1/tasks/{settle['id']}/complete"
    assert (await api.post(url, json={"outcome": "paid", "paid_amount": "abc"}, headers=billing)).status_code == 422
    assert (await api.post(url, json={"outcome": "paid", "paid_amount": str(expected)},
                           headers=nurse)).status_code == 403
    paid = await api.post(url, json={"outcome": "paid", "paid_amount": str(expected)}, headers=billing)
    assert paid.status_code == 200 and paid.json()["result"]["outcome"] == "paid", paid.text
    again = await api.post(url, json={"outcome": "paid", "paid_amount": str(expected)}, headers=billing)
    assert again.status_code == 409
    claim = (await api.get(f"/api/v1/claims/{settle['details']['claim_id']}", headers=billing)).json()
    assert claim["outcome"] == "paid" and Decimal(claim["paid_amount"]) == expected

    async def journey_discharged() -> bool:
        r = await api.get(f"/api/v1/journeys/{journey_id}", headers=attending)
        return r.json()["stage"] == "discharged"

    await eventually(journey_discharged)
    assert (await api.post(plan, headers=attending)).status_code == 409
