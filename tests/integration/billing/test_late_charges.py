"""Charges posted after a stay was invoiced, and settlements sent over FHIR, against real PostgreSQL and a
Temporal dev server worker: a late charge goes on a supplementary invoice with its claim, the invoices of a
stay always total its charges, and FHIR Invoice/Claim updates go through the billing journey's settlement task."""
from __future__ import annotations

import asyncio
import dataclasses
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest
import sqlalchemy as sa
from fhir.resources.R4B.claim import Claim
from fhir.resources.R4B.invoice import Invoice
from sqlalchemy.orm import Session
from temporalio.client import WorkflowHandle
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment
from temporalio.worker import Replayer

from activities.billing import BillingActivities
from activities.billing_fhir import build_invoice
from activities.billing_tariff import load_tariff
from activities.storage import billing_repo
from activities.storage.db import make_session_factory
from ledger.embedded import EmbeddedLedger
from tests.integration.billing.helpers import admit, billing_input, eventually, task_row
from tests.integration.fhir.test_billing_writes import claim_body
from tests.integration.fhir.test_charge_writes import charge
from workflows.billing import BillingWorkflow
from workflows.billing_contracts import ChargeInput
from workflows.contracts import AuditContext, DischargeRequest, JourneyState
from workflows.journey import PatientJourney
from workflows.payload_converter import data_converter
from workflows.registry import WORKFLOWS

pytestmark = pytest.mark.integration
FHIR = "application/fhir+json"
Auth = Callable[..., dict[str, str]]


def clerk(auth: Auth) -> dict[str, str]:
    return {**auth("billing-1", "billing_clerk"), "Content-Type": FHIR, "Accept": FHIR}


async def discharged(env: WorkflowEnvironment, queue: str, engine: sa.Engine) -> tuple[JourneyState, WorkflowHandle]:
    """A stay ended by its journey, its stay invoice and claim issued, the settlement task open."""
    journey, state = await admit(env.client, queue)
    await journey.signal(PatientJourney.discharge, DischargeRequest(requested_by="attending-1"))
    await journey.result()
    handle = await env.client.start_workflow(BillingWorkflow.run, billing_input(state),
                                             id=f"billing-{state.encounter_id}", task_queue=queue)
    await eventually(lambda: asyncio.to_thread(task_row, engine, f"billing-settlement-{state.encounter_id}"))
    return state, handle


def invoices(engine: sa.Engine, encounter_id: str) -> dict[str, sa.Row]:
    with engine.connect() as c:
        rows = c.execute(sa.text("SELECT id, kind, status, total, resource FROM hms.invoices WHERE encounter_id = :e"),
                         {"e": encounter_id}).all()
    return {r.id: r for r in rows}


def assert_invoiced_exactly(engine: sa.Engine, encounter_id: str) -> None:
    """Every charge not entered in error is on exactly one invoice, and the invoices total exactly those."""
    with engine.connect() as c:
        live, unbilled = c.execute(sa.text(
            "SELECT coalesce(sum(amount), 0), count(*) FILTER (WHERE invoice_id IS NULL) FROM hms.charge_items "
            "WHERE encounter_id = :e AND reversed_at IS NULL"), {"e": encounter_id}).one()
        per_invoice = c.execute(sa.text(
            "SELECT i.id, i.total, coalesce(sum(ch.amount), 0) AS charged FROM hms.invoices i LEFT JOIN "
            "hms.charge_items ch ON ch.invoice_id = i.id WHERE i.encounter_id = :e GROUP BY 1, 2"),
            {"e": encounter_id}).all()
    assert unbilled == 0
    assert all(r.total == r.charged for r in per_invoice), per_invoice
    assert sum((r.total for r in per_invoice), Decimal("0.00")) == Decimal(live)


async def put_status(api: httpx.AsyncClient, headers: dict[str, str], rtype: str, rid: str,
                     status: str) -> httpx.Response:
    current = await api.get(f"/fhir/r4/{rtype}/{rid}", headers=headers)
    assert current.status_code == 200, current.text
    return await api.put(f"/fhir/r4/{rtype}/{rid}", json={**current.json(), "status": status}, headers=headers)


async def replays(handle: WorkflowHandle) -> None:
    replay = await Replayer(workflows=WORKFLOWS, data_converter=data_converter).replay_workflow(
        await handle.fetch_history())
    assert replay.replay_failure is None


async def test_late_charges_go_on_supplementary_invoices_and_payment_over_fhir_settles(
        api: httpx.AsyncClient, auth: Auth, temporal_env: WorkflowEnvironment, db_engine: sa.Engine,
        ledger: EmbeddedLedger, task_queue: str) -> None:
    state, billing = await discharged(temporal_env, task_queue, db_engine)
    enc, h = state.encounter_id, clerk(auth)
    stay_invoice = f"invoice-{enc}"
    assert set(invoices(db_engine, enc)) == {stay_invoice}

    # A departmental system posts a charge after the stay was invoiced, twice.
    body = charge(state.patient_id, enc)
    first = await api.post("/fhir/r4/ChargeItem", json=body, headers=h)
    assert first.status_code == 201, first.text
    late_id = first.json()["id"]
    assert first.json()["status"] == "billed"
    again = await api.post("/fhir/r4/ChargeItem", json=body, headers=h)
    assert again.status_code == 200 and again.json()["id"] == late_id
    found = invoices(db_engine, enc)
    supplementary = found[f"invoice-{late_id}"]
    assert set(found) == {stay_invoice, supplementary.id} and supplementary.kind == "supplementary"
    Invoice.model_validate(supplementary.resource)
    assert [li["chargeItemReference"]["reference"] for li in supplementary.resource["lineItem"]] == [
        f"ChargeItem/{late_id}"]
    assert supplementary.total == load_tariff().price("IMG-XR", 2)
    claim = await api.get(f"/fhir/r4/Claim/claim-{late_id}", headers=h)
    assert claim.status_code == 200 and Decimal(str(claim.json()["total"]["value"])) == supplementary.total
    Claim.model_validate(claim.json())

    # A stage ending after discharge charges through the activity: the same, and on the ledger.
    acts = BillingActivities(make_session_factory(db_engine), ledger)
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, workflow_id=f"pharmacy-{enc}", activity_id="late-dispense")
    dispensed = env.run(acts.record_charge, ChargeInput(
        audit=AuditContext(journey_id=state.journey_id, requested_by="pharmacist-1"),
        idempotency_key=f"dispense:{enc}:late", encounter_id=enc, patient_id=state.patient_id,
        code="RX-DISPENSE", quantity=3, source="pharmacy", source_id="late"))
    assert f"invoice-{dispensed.charge_id}" in invoices(db_engine, enc)
    audited = {(e.event.subtype, e.event.resource_id) for e in ledger.query(patient_id=state.patient_id)}
    assert {("invoice.issue", f"invoice-{dispensed.charge_id}"), ("claim.submit", f"claim-{dispensed.charge_id}")
            } <= audited
    assert_invoiced_exactly(db_engine, enc)

    # Payment of the stay invoice over FHIR goes through the clerk's settlement task, once.
    total = invoices(db_engine, enc)[stay_invoice].total
    paid = await put_status(api, h, "Invoice", stay_invoice, "balanced")
    assert paid.status_code == 200, paid.text
    assert paid.json()["status"] == "balanced"
    result = await billing.result()
    assert result.outcome == "paid" and result.paid_amount == total
    assert task_row(db_engine, f"billing-settlement-{enc}").status == "completed"
    assert (await put_status(api, h, "Invoice", stay_invoice, "balanced")).status_code == 409
    # A supplementary invoice has no task: recorded directly, by the same settlement function.
    late_paid = await put_status(api, h, "Invoice", supplementary.id, "balanced")
    assert late_paid.status_code == 200 and late_paid.json()["status"] == "balanced"
    with db_engine.connect() as c:
        outcome = c.execute(sa.text("SELECT outcome, paid_amount FROM hms.claims WHERE id = :c"),
                            {"c": f"claim-{late_id}"}).one()
    assert outcome == ("paid", supplementary.total)
    assert_invoiced_exactly(db_engine, enc)
    await replays(billing)


async def test_claim_withdrawal_and_invoice_cancellation_over_fhir(
        api: httpx.AsyncClient, auth: Auth, temporal_env: WorkflowEnvironment, db_engine: sa.Engine,
        task_queue: str) -> None:
    h = clerk(auth)
    # Withdrawing the stay's claim while the settlement task is open closes the task and ends billing.
    state, billing = await discharged(temporal_env, task_queue, db_engine)
    enc = state.encounter_id
    withdrawn = await put_status(api, h, "Claim", f"claim-{enc}", "cancelled")
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "cancelled", withdrawn.text
    assert (await billing.result()).outcome == "withdrawn"
    assert (await put_status(api, h, "Claim", f"claim-{enc}", "cancelled")).status_code == 409
    # A new claim for the invoice, then the invoice cancelled (no task open now: recorded directly).
    resubmitted = await api.post("/fhir/r4/Claim", json=claim_body(state.patient_id, f"invoice-{enc}"), headers=h)
    assert resubmitted.status_code == 201, resubmitted.text
    cancelled = await put_status(api, h, "Invoice", f"invoice-{enc}", "cancelled")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    again = await api.get(f"/fhir/r4/Claim/{resubmitted.json()['id']}", headers=h)
    assert again.json()["status"] == "cancelled"
    await replays(billing)

    # Cancelling a stay invoice while its task is open goes through the task: invoice and claim cancelled.
    state, billing = await discharged(temporal_env, task_queue, db_engine)
    enc = state.encounter_id
    cancelled = await put_status(api, h, "Invoice", f"invoice-{enc}", "cancelled")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled", cancelled.text
    assert (await billing.result()).outcome == "cancelled"
    assert (await api.get(f"/fhir/r4/Claim/claim-{enc}", headers=h)).json()["status"] == "cancelled"
    nurse = {**auth("nurse-medical-1", "nurse"), "Content-Type": FHIR}
    forbidden = await api.put(f"/fhir/r4/Invoice/invoice-{enc}", json={"resourceType": "Invoice", "id": f"invoice-{enc}",
                                                                       "status": "balanced"}, headers=nurse)
    assert forbidden.status_code == 403
    await replays(billing)


def test_a_charge_racing_the_stay_invoice_is_billed_once(db_engine: sa.Engine) -> None:
    """Whichever commits first, a charge recorded while the stay invoice is being issued ends on exactly one
    invoice: the stay's lock makes the charge wait, then find the invoice and open a supplementary one."""
    patient_id, encounter_id = str(uuid.uuid4()), str(uuid.uuid4())  # charges name their stay, as stages do
    sessions, tariff, now = make_session_factory(db_engine), load_tariff(), datetime.now(UTC)
    record = dict(encounter_id=encounter_id, patient_id=patient_id, journey_id=f"journey-{encounter_id}",
                  code="IMG-XR", quantity=1, source="imaging", occurred_at=now)
    with sessions() as s, s.begin():
        billing_repo.record_charge(s, tariff, key=f"imaging:{encounter_id}:1", source_id="1", **record)
    raced: dict[str, str] = {}

    def late() -> None:
        with sessions() as s, s.begin():
            raced["id"] = billing_repo.record_charge(s, tariff, key=f"imaging:{encounter_id}:2", source_id="2",
                                                     **record)[0].id

    with Session(db_engine) as s, s.begin():
        billing_repo.issue_invoice(s, invoice_id=f"invoice-{encounter_id}", encounter_id=encounter_id,
                                   patient_id=patient_id, journey_id=f"journey-{encounter_id}", currency="INR", at=now,
                                   build=lambda lines: build_invoice(f"invoice-{encounter_id}", patient_id,
                                                                     encounter_id, now, lines, "INR"))
        racer = threading.Thread(target=late)
        racer.start()  # blocks on the stay's lock until this transaction commits
    racer.join(60)
    found = invoices(db_engine, encounter_id)
    assert set(found) == {f"invoice-{encounter_id}", f"invoice-{raced['id']}"}
    assert found[f"invoice-{encounter_id}"].total == found[f"invoice-{raced['id']}"].total == Decimal("450.00")
    assert_invoiced_exactly(db_engine, encounter_id)
    with pytest.raises(sa.exc.IntegrityError), db_engine.begin() as c:  # the database keeps it on that invoice
        c.execute(sa.text("UPDATE hms.charge_items SET invoice_id = :i WHERE id = :c"),
                  {"i": f"invoice-{encounter_id}", "c": raced["id"]})
