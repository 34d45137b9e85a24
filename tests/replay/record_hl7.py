"""Record the history of an HL7 ingestion inbox (``Hl7IngestWorkflow``).

    HMS_TEST_DATABASE_URL=postgresql://... .venv/bin/python -m tests.replay.record_hl7

One patient's inbox takes an A01 (the admission journey as an abandoned child), the same A01
again (dropped as a duplicate), an ORU^R01 (Observations), an A08 and an A03 (the journey's
discharge signal), continuing as new after three messages; the history of the first run is kept.
A second patient's A04 and A08 go through an intake shard (group commit): the shard's history.

``hl7_ingest_continued.json`` was recorded before the ``oru-results-reach-journey`` patch and
``hl7_ingest_results_reach_journey.json`` (the ORU signalled to the journey) after it, by this
script with the output renamed: keep both, so both paths keep replaying.
"""
from __future__ import annotations

import asyncio
import os

from temporalio.service import RPCError

from api.hl7.batching import BatchingHandOver
from api.hl7.handover import TemporalHandOver
from api.hl7.parse import parse
from tests.integration.conftest import journey_worker
from tests.replay.harness import OUT, recording
from tests.unit.hl7.samples import adt, oru
from workflows.hl7_ingest import Hl7IngestWorkflow, ingest_workflow_id
from workflows.hl7_intake import intake_workflow_id


class ShortRuns(TemporalHandOver):
    """The listener's hand-over, with a small ``continue_after`` so the history shows continue-as-new."""

    async def __call__(self, msg):  # noqa: ANN001, ANN204
        from workflows.hl7_contracts import Hl7IngestInput

        key = msg.derived_patient_id
        await self._client.start_workflow(Hl7IngestWorkflow.run, Hl7IngestInput(patient_key=key, continue_after=3),
                                          id=ingest_workflow_id(key), task_queue=self._queue,
                                          start_signal="receive", start_signal_args=[msg])


async def main() -> None:
    async with recording(dev_server=True) as rec:
        env, engine, ledger = rec.env, rec.engine, rec.ledger
        queue, index_key, mrn = "record-hl7", os.urandom(32), "MRN-REPLAY-1"
        hand_over = ShortRuns(env.client, queue)
        async with journey_worker(env, engine, ledger, queue):
            msgs = [adt("A01", mrn=mrn, cid="R1"), adt("A01", mrn=mrn, cid="R1"), oru(mrn=mrn, cid="R2"),
                    adt("A08", mrn=mrn, cid="R3", family="Sharma"), adt("A03", mrn=mrn, cid="R4")]
            for text in msgs:
                _, msg = parse(text.encode(), index_key)
                await hand_over(msg)
            workflow_id = ingest_workflow_id(msg.derived_patient_id)
            handle = env.client.get_workflow_handle(workflow_id)
            for _ in range(600):
                state = await handle.query(Hl7IngestWorkflow.state)
                if state.processed >= 4 and state.pending == 0:
                    break
                await asyncio.sleep(0.1)
            print([(o.control_id, o.status, o.note) for o in state.outcomes])
            runs = [e async for e in env.client.list_workflows(f"WorkflowId = '{workflow_id}'")]
            first = min(runs, key=lambda r: r.start_time)
            history = await env.client.get_workflow_handle(workflow_id, run_id=first.run_id).fetch_history()
            OUT.joinpath("hl7_ingest_continued.json").write_text(history.to_json())

            # The group-commit path: an intake shard starting one inbox and signalling it with a later batch.
            batching = BatchingHandOver(env.client, queue, shards=1)
            for text in (adt("A04", mrn="MRN-REPLAY-2", cid="S1"), adt("A08", mrn="MRN-REPLAY-2", cid="S2")):
                _, msg = parse(text.encode(), index_key)
                await batching(msg)
            inbox = env.client.get_workflow_handle(ingest_workflow_id(msg.derived_patient_id))
            for _ in range(600):
                try:
                    if (await inbox.query(Hl7IngestWorkflow.state)).processed >= 2:
                        break
                except RPCError:
                    pass
                await asyncio.sleep(0.1)
            shard = env.client.get_workflow_handle(intake_workflow_id(queue, 0))
            OUT.joinpath("hl7_intake_start_and_signal.json").write_text((await shard.fetch_history()).to_json())


if __name__ == "__main__":
    asyncio.run(main())
