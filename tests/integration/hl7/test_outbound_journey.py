"""A journey tells a real MLLP receiver of its stay: A01, ORM^O01, ORU^R01, A03, each once and in order."""
from __future__ import annotations

import asyncio
import dataclasses
import os
import uuid

import pytest
import sqlalchemy as sa
from hl7.client import MLLPClient
from temporalio.testing import WorkflowEnvironment

from activities.storage import repository as repo
from activities.storage.db import make_session_factory
from api.hl7.handler import Hl7Handler, WardCache
from api.hl7.handover import TemporalHandOver
from api.hl7.listener import MllpListener
from ledger.embedded import EmbeddedLedger
from tests.integration.conftest import journey_worker
from tests.integration.hl7.receiver import Receiver
from tests.integration.workflows.test_admission_journey import journey_input, wait_stage
from tests.unit.hl7.samples import ack_fields, adt
from workflows.contracts import DischargeRequest, ResultNotice
from workflows.hl7_outbox import Hl7OutboxWorkflow, outbox_workflow_id
from workflows.journey import PatientJourney
from workflows.stages import StageRequest

pytestmark = pytest.mark.integration


async def test_a_stay_is_sent_once_in_order_through_an_outage_and_a_retried_delivery(
        temporal_env: WorkflowEnvironment, db_engine: sa.Engine, ledger: EmbeddedLedger, task_queue: str) -> None:
    receiver = Receiver(port=Receiver.free_port())  # not listening yet: the destination is down
    inp = dataclasses.replace(journey_input(), hl7_destinations=[receiver.destination])
    enc = inp.encounter_id
    receiver.drop_first.add(f"A03-{enc}")  # the A03's first delivery gets no ACK: its activity is retried
    async with journey_worker(temporal_env, db_engine, ledger, task_queue):
        journey = await temporal_env.client.start_workflow(PatientJourney.run, inp, id=inp.journey_id,
                                                           task_queue=task_queue)
        state = await wait_stage(journey, "admitted")
        order_id = str(uuid.uuid4())
        await journey.execute_update(PatientJourney.start_stage, StageRequest(
            kind="imaging", stage_id=order_id, requested_by="attending-1",
            payload={"modality": "CR", "body_site": "51185008", "reason_code": "R05"}))
        await journey.signal(PatientJourney.result_posted, ResultNotice(observation_id=str(uuid.uuid4()),
                                                                        code="8867-4", interpretation="N"))
        outbox = temporal_env.client.get_workflow_handle_for(Hl7OutboxWorkflow.run, outbox_workflow_id(enc))
        for _ in range(300):  # care went on while the destination was down: all three wait in the outbox
            st = await outbox.query(Hl7OutboxWorkflow.state)
            if st.built == 3:
                break
            await asyncio.sleep(0.1)
        assert st.built == 3 and st.delivered == {receiver.destination: 0} and receiver.deliveries == []
        await receiver.start()
        try:
            await receiver.wait_for("ORU^R01")
            await journey.signal(PatientJourney.discharge, DischargeRequest(requested_by="attending-1"))
            final = await journey.result()
            await receiver.wait_for("ADT^A03")
            result = await outbox.result()
        finally:
            await receiver.stop()
    assert final.status == "completed" and result.delivered == {receiver.destination: 4}
    assert receiver.kinds() == ["ADT^A01", "ORM^O01", "ORU^R01", "ADT^A03"]
    a01, orm, _, a03 = receiver.applied
    assert a01.control_id == f"A01-{enc}" and a01.field("PV1", 19) == enc and a01.field("PV1", 3).startswith("medical")
    assert a01.field("PID", 3).startswith(inp.patient.identifier_value)
    assert orm.field("ORC", 2) == order_id and orm.field("OBR", 4).startswith("CR")
    assert a03.field("PV1", 45) != ""  # the discharge time, from the finished encounter
    redelivered = [r.control_id for r in receiver.deliveries if r.control_id == a03.control_id]
    assert len(redelivered) == 2 and len(receiver.deliveries) == 5  # one retry, the same message, applied once
    assert state.patient_id


async def test_an_hl7_admission_carries_the_destinations_to_its_journey(
        temporal_env: WorkflowEnvironment, db_engine: sa.Engine, ledger: EmbeddedLedger, task_queue: str) -> None:
    receiver = Receiver()
    await receiver.start()
    sessions = make_session_factory(db_engine)

    def wards() -> list[str]:
        with sessions() as s:
            return repo.ward_ids(s)

    listener = MllpListener(Hl7Handler(os.urandom(32), TemporalHandOver(temporal_env.client, task_queue),
                                       WardCache(wards), destinations=[receiver.destination]))
    port = await listener.start("127.0.0.1", 0)
    mrn = f"MRN{uuid.uuid4().hex[:10]}"
    try:
        async with journey_worker(temporal_env, db_engine, ledger, task_queue):
            def send() -> list[str]:
                with MLLPClient("127.0.0.1", port) as c:
                    return [c.send_message(m).decode().strip("\x0b\x1c\r") for m in (adt("A01", mrn=mrn),
                                                                                      adt("A03", mrn=mrn))]
            acks = await asyncio.to_thread(send)
            assert [ack_fields(a)["MSA"][1] for a in acks] == ["AA", "AA"]
            a01 = await receiver.wait_for("ADT^A01")
            a03 = await receiver.wait_for("ADT^A03")
    finally:
        await listener.close()
        await receiver.stop()
    assert a01.field("PID", 3).startswith(mrn) and a03.control_id == a01.control_id.replace("A01-", "A03-")
    assert receiver.kinds() == ["ADT^A01", "ADT^A03"]


async def test_without_destinations_nothing_is_sent(
        temporal_env: WorkflowEnvironment, db_engine: sa.Engine, ledger: EmbeddedLedger, task_queue: str) -> None:
    inp = journey_input()
    async with journey_worker(temporal_env, db_engine, ledger, task_queue):
        journey = await temporal_env.client.start_workflow(PatientJourney.run, inp, id=inp.journey_id,
                                                           task_queue=task_queue)
        await wait_stage(journey, "admitted")
        await journey.signal(PatientJourney.discharge, DischargeRequest(requested_by="attending-1"))
        await journey.result()
        history = await journey.fetch_history()
    assert not [e for e in history.events if e.HasField("start_child_workflow_execution_initiated_event_attributes")
                and "outbox" in e.start_child_workflow_execution_initiated_event_attributes.workflow_id]
    assert not [e for e in history.events if e.HasField("marker_recorded_event_attributes")
                and "hl7-outbound" in str(e.marker_recorded_event_attributes.details)]
