"""Record HL7 orders reaching a journey, and the stay going out as HL7 (run by hand when these change on purpose).

    HMS_TEST_DATABASE_URL=postgresql://... .venv/bin/python -m tests.replay.record_hl7_orders

One patient's inbox takes an A01 carrying an outbound destination (a test MLLP receiver), an imaging
ORM^O01 (sent twice: a duplicate), a medication ORM^O01 and, once its verification task is open, its
cancellation (ORC-1 CA), an ORU^R01 and an A03. Writes ``hl7_ingest_orders.json`` (the inbox, after
the ``hl7-orders-start-stages`` patch), ``journey_hl7_orders_outbound.json`` (the journey: orders by
signal, a stage cancelled by its placer, the ``hl7-outbound`` patch) and ``hl7_outbox_stay.json``
(the stay's A01, two ORM^O01, two ORU^R01 and the A03 delivered in order).
"""
from __future__ import annotations

import asyncio
import os

import sqlalchemy as sa

from api.hl7.handover import TemporalHandOver
from api.hl7.parse import parse
from tests.integration.conftest import journey_worker
from tests.integration.hl7.receiver import Receiver
from tests.integration.hl7.test_mllp_orders import imaging_order, medication_order
from tests.replay.harness import OUT, recording
from tests.unit.hl7.samples import adt, oru
from workflows.hl7_ingest import Hl7IngestWorkflow, ingest_workflow_id
from workflows.hl7_outbox import Hl7OutboxWorkflow, outbox_workflow_id
from workflows.journey import PatientJourney
from workflows.pharmacy_contracts import VERIFY


async def _until(check, timeout: float = 60.0) -> None:  # noqa: ANN001
    for _ in range(int(timeout * 10)):
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("timed out")


async def main() -> None:
    receiver = Receiver()
    await receiver.start()
    async with recording(dev_server=True) as rec:
        env, engine = rec.env, rec.engine
        queue, index_key, mrn = "record-hl7-orders", os.urandom(32), "MRN-REPLAY-ORDERS"
        hand_over = TemporalHandOver(env.client, queue)

        async def send(text: str) -> None:
            _, msg = parse(text.encode(), index_key)
            if msg.kind == "ADT^A01":
                msg.hl7_destinations = [receiver.destination]
            await hand_over(msg)

        async with journey_worker(env, engine, rec.ledger, queue):
            for text in (adt("A01", mrn=mrn, cid="O0"), imaging_order(mrn, "IMG-1", cid="O1"),
                         imaging_order(mrn, "IMG-1", cid="O1"), medication_order(mrn, "RX-1")):
                await send(text)
            _, first = parse(adt("A01", mrn=mrn).encode(), index_key)
            inbox = env.client.get_workflow_handle(ingest_workflow_id(first.derived_patient_id))

            async def processed(n: int) -> bool:
                state = await inbox.query(Hl7IngestWorkflow.state)
                return state.processed >= n and state.pending == 0

            await _until(lambda: processed(3))
            journey_id = next(o.ref for o in (await inbox.query(Hl7IngestWorkflow.state)).outcomes
                              if o.kind == "ADT^A01")
            journey = env.client.get_workflow_handle_for(PatientJourney.run, journey_id)

            async def verification_open() -> bool:
                stages = (await journey.query(PatientJourney.state)).stages
                rx = [s for s in stages if s.kind == "pharmacy"]
                if not rx:
                    return False
                with engine.connect() as c:
                    return c.execute(sa.text("SELECT status FROM hms.tasks WHERE id = :t"),
                                     {"t": f"{VERIFY}-{rx[0].stage_id}"}).scalar() == "open"

            await _until(verification_open)
            await send(medication_order(mrn, "RX-1", control="CA"))
            await send(oru(mrn=mrn, cid="O4"))
            await _until(lambda: processed(5))
            await _until(lambda: _has(receiver, "ORU^R01"))
            await send(adt("A03", mrn=mrn, cid="O5"))
            final = await journey.result()
            state = (await journey.query(PatientJourney.state)) if final is None else final
            print([(s.kind, s.status) for s in state.stages], receiver.kinds())
            outbox = env.client.get_workflow_handle_for(Hl7OutboxWorkflow.run, outbox_workflow_id(state.encounter_id))
            await outbox.result()
            OUT.joinpath("hl7_ingest_orders.json").write_text((await inbox.fetch_history()).to_json())
            OUT.joinpath("journey_hl7_orders_outbound.json").write_text((await journey.fetch_history()).to_json())
            OUT.joinpath("hl7_outbox_stay.json").write_text((await outbox.fetch_history()).to_json())
    await receiver.stop()


async def _has(receiver: Receiver, kind: str) -> bool:
    return kind in receiver.kinds()


if __name__ == "__main__":
    asyncio.run(main())
