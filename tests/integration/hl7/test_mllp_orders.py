"""ORM^O01 / OML^O21 over MLLP start and cancel the journey's imaging and pharmacy orders, once each."""
from __future__ import annotations

import asyncio
import uuid

import pytest
import sqlalchemy as sa
from temporalio.client import WorkflowExecutionStatus

from activities import imaging as imaging_store
from activities.crypto.fields import ephemeral_cipher
from activities.storage import pharmacy as pharmacy_store
from activities.storage import repository as repo
from activities.storage.db import make_session_factory
from tests.integration.hl7.conftest import Mllp
from tests.unit.hl7.samples import ack_fields, adt, control_id, msh
from workflows.contracts import DischargeRequest, JourneyState
from workflows.hl7_orders import order_stage_id
from workflows.journey import PatientJourney
from workflows.pharmacy import PharmacyWorkflow
from workflows.pharmacy_contracts import VERIFY

pytestmark = pytest.mark.integration
XR_CHEST = "36643-5^XR Chest 2 views^LN"


def imaging_order(mrn: str, placer: str, *, control: str = "NW", cid: str | None = None, code: str = XR_CHEST,
                  section: str = "", trigger: str = "ORM^O01") -> str:
    structure = "ORM_O01" if trigger.startswith("ORM") else "OML_O21"
    obr = f"OBR|1|{placer}||{code}" + ("|" * 20 + section if section else "")
    return "\r".join([msh(trigger, structure, cid or control_id()), f"PID|1||{mrn}^^^HMS^MR||Verma^Asha",
                      f"ORC|{control}|{placer}", obr]) + "\r"


def medication_order(mrn: str, placer: str, *, control: str = "NW", drug: str = "1191^aspirin^RXNORM") -> str:
    return "\r".join([msh("ORM^O01", "ORM_O01", control_id()), f"PID|1||{mrn}^^^HMS^MR||Verma^Asha",
                      f"ORC|{control}|{placer}|||||^Q6H^X4", f"RXO|{drug}|75||mg", "RXR|PO"]) + "\r"


def _mrn() -> str:
    return f"MRN{uuid.uuid4().hex[:10]}"


def _patient(db_engine: sa.Engine, mrn: str) -> str:
    with make_session_factory(db_engine)() as s:
        pid = repo.find_patient_by_identifier(s, ephemeral_cipher(), "urn:hms:mrn", mrn)
    assert pid is not None
    return pid


async def _stages(mllp: Mllp, journey_id: str, until: str, count: int = 1) -> JourneyState:
    journey = mllp.client.get_workflow_handle_for(PatientJourney.run, journey_id)
    for _ in range(300):
        state = await journey.query(PatientJourney.state)
        if len([s for s in state.stages if s.status == until]) >= count:
            return state
        await asyncio.sleep(0.1)
    raise AssertionError(f"no {until} stage: {state.stages}")


async def _discharge(mllp: Mllp, journey_id: str) -> JourneyState:
    journey = mllp.client.get_workflow_handle_for(PatientJourney.run, journey_id)
    await journey.signal(PatientJourney.discharge, DischargeRequest(requested_by="attending-1"))
    return await journey.result()


async def test_an_imaging_order_starts_its_stage_once(mllp: Mllp, db_engine: sa.Engine) -> None:
    mrn, placer, cid = _mrn(), f"PL-{uuid.uuid4().hex[:8]}", control_id()
    acks = await mllp.send(adt("A01", mrn=mrn), imaging_order(mrn, placer, cid=cid), imaging_order(mrn, placer, cid=cid),
                           imaging_order(mrn, placer, trigger="OML^O21", section="RAD"))
    assert [ack_fields(a)["MSA"][1] for a in acks] == ["AA"] * 4
    state = await mllp.wait_processed(mrn, 3)
    assert sorted(o.status for o in state.outcomes) == ["applied", "applied", "applied", "duplicate"]
    journey_id = next(o.ref for o in state.outcomes if o.kind == "ADT^A01") or ""
    stage_id = order_stage_id(_patient(db_engine, mrn), "GENLAB", placer)
    js = await _stages(mllp, journey_id, "running")
    assert [(s.kind, s.stage_id) for s in js.stages] == [("imaging", stage_id)]  # a second placer message: no second
    for _ in range(100):
        with make_session_factory(db_engine)() as s:
            order = imaging_store.get_order(s, stage_id)
            found = None if order is None else (order.modality, order.status)
        if found:
            break
        await asyncio.sleep(0.1)
    assert found == ("CR", "active")
    final = await _discharge(mllp, journey_id)
    assert [s.status for s in final.stages] == ["cancelled"]


async def test_a_medication_order_is_stopped_by_its_placer(mllp: Mllp, db_engine: sa.Engine) -> None:
    mrn, placer = _mrn(), f"RX-{uuid.uuid4().hex[:8]}"
    acks = await mllp.send(adt("A01", mrn=mrn), medication_order(mrn, placer))
    assert [ack_fields(a)["MSA"][1] for a in acks] == ["AA", "AA"]
    state = await mllp.wait_processed(mrn, 2)
    journey_id = state.outcomes[0].ref or ""
    js = await _stages(mllp, journey_id, "running")
    [stage] = js.stages
    assert stage.kind == "pharmacy" and stage.stage_id == order_stage_id(_patient(db_engine, mrn), "GENLAB", placer)
    task_id = f"{VERIFY}-{stage.stage_id}"
    for _ in range(300):  # the pharmacist's verification is open: the course waits on people now
        with db_engine.connect() as c:
            if c.execute(sa.text("SELECT status FROM hms.tasks WHERE id = :t"), {"t": task_id}).scalar() == "open":
                break
        await asyncio.sleep(0.1)
    [cancel] = await mllp.send(medication_order(mrn, placer, control="CA"))
    assert ack_fields(cancel)["MSA"][1] == "AA"
    js = await _stages(mllp, journey_id, "cancelled")
    course = mllp.client.get_workflow_handle_for(PharmacyWorkflow.run, stage.workflow_id)
    assert (await course.describe()).status == WorkflowExecutionStatus.CANCELED  # compensated, then cancelled
    with db_engine.connect() as c:
        assert c.execute(sa.text("SELECT status FROM hms.tasks WHERE id = :t"), {"t": task_id}).scalar() == "cancelled"
    with make_session_factory(db_engine)() as s:
        order = pharmacy_store.get_order(s, stage.stage_id)
        assert order is not None and (order.drug_code, order.status, order.doses) == ("1191", "cancelled", 4)
    assert (await _discharge(mllp, journey_id)).status == "completed"


async def test_orders_that_cannot_be_applied_are_refused_and_start_nothing(mllp: Mllp, db_engine: sa.Engine) -> None:
    mrn, stranger = _mrn(), _mrn()
    acks = await mllp.send(
        adt("A01", mrn=mrn), imaging_order(stranger, "P-1"), imaging_order(mrn, "P-2", code="718-7^Hemoglobin^LN"),
        imaging_order(mrn, "P-3", code="99999-9^Scan^LN", section="RAD"),
        medication_order(mrn, "P-4", drug="99999^unknown^RXNORM"), medication_order(mrn, "P-5", control="CA"),
        imaging_order(mrn, "P-6", control="XO"))
    got = [(ack_fields(a)["MSA"][1], ack_fields(a).get("ERR", ["", "", ""])[2],
            ack_fields(a).get("ERR", ["", "", "", ""])[3].split("^")[0]) for a in acks]
    assert got == [("AA", "", ""), ("AE", "PID^1^3", "204"), ("AE", "OBR^1^4", "103"), ("AE", "OBR^1^4", "103"),
                   ("AE", "RXO^1^1", "103"), ("AE", "ORC^1^2", "204"), ("AE", "ORC^1^1", "103")]
    assert "imaging catalogue" in ack_fields(acks[3])["ERR"][8]
    state = await mllp.wait_processed(mrn, 1)
    assert [o.kind for o in state.outcomes] == ["ADT^A01"]  # none of the refused orders was handed over
    final = await _discharge(mllp, state.outcomes[0].ref or "")
    assert final.stages == []
