"""The durable hand-over: signal-with-start of the patient's ``Hl7IngestWorkflow``.

When ``start_workflow`` returns, the Temporal server has persisted the signal (and started
the inbox if it was not running), so the listener may answer ``AA``: a crash from here on
loses nothing, and a resend is deduplicated by the workflow.
"""
from __future__ import annotations

from temporalio.client import Client

from workflows.hl7_contracts import Hl7IngestInput, Hl7Message
from workflows.hl7_ingest import Hl7IngestWorkflow, ingest_workflow_id


class TemporalHandOver:
    def __init__(self, client: Client, task_queue: str, requested_by: str = "hl7-interface") -> None:
        self._client = client
        self._queue = task_queue
        self._by = requested_by

    async def __call__(self, msg: Hl7Message) -> None:
        key = msg.derived_patient_id
        await self._client.start_workflow(
            Hl7IngestWorkflow.run, Hl7IngestInput(patient_key=key, requested_by=self._by),
            id=ingest_workflow_id(key), task_queue=self._queue,
            start_signal="receive", start_signal_args=[msg])
