"""Hl7IntakeWorkflow: group commit for the MLLP listener, in front of the patients' inboxes.

Persisting one message costs the Temporal server one write, and its embedded file store takes
about a hundred writes a second on one machine. So the listener may instead gather what
arrives within a few milliseconds for one shard (``hl7-intake-<task queue>-<n>``, chosen by the patient key)
into one signal; once that signal is persisted every message in it is durable and gets its
``AA``. The shard then forwards each patient's messages, in order, to that patient's
``Hl7IngestWorkflow`` (started as an abandoned child with the messages as its first input, or
signalled when it runs already). Batches are forwarded one after the other, so a patient's
messages keep their order; deduplication stays with the inbox.
"""
from __future__ import annotations

import asyncio

from temporalio import workflow
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from workflows.hl7_contracts import Hl7IngestInput, Hl7IntakeInput, Hl7Message
    from workflows.hl7_ingest import Hl7IngestWorkflow, ingest_workflow_id

STARTED_LIMIT = 5000


def intake_workflow_id(task_queue: str, shard: int) -> str:
    """Shards are per task queue, so stacks sharing a namespace never feed each other's workers."""
    return f"hl7-intake-{task_queue}-{shard}"


@workflow.defn(name="Hl7IntakeWorkflow")
class Hl7IntakeWorkflow:
    @workflow.init
    def __init__(self, inp: Hl7IntakeInput) -> None:
        self._queue: list[list[Hl7Message]] = [list(b) for b in inp.pending]
        self._started: dict[str, None] = dict.fromkeys(inp.started)
        self._forwarded = inp.forwarded
        self._in_run = 0

    @workflow.signal
    def receive(self, batch: list[Hl7Message]) -> None:
        if batch:
            self._queue.append(list(batch))

    @workflow.query
    def backlog(self) -> int:
        return sum(len(b) for b in self._queue)

    @workflow.run
    async def run(self, inp: Hl7IntakeInput) -> None:
        while True:
            await workflow.wait_condition(lambda: bool(self._queue) or self._in_run >= inp.continue_after
                                          or workflow.info().is_continue_as_new_suggested())
            if self._queue:
                await self._forward(inp, self._queue[0])
                self._queue.pop(0)
                continue
            await workflow.wait_condition(workflow.all_handlers_finished)
            if not self._queue:
                workflow.continue_as_new(Hl7IntakeInput(
                    shard=inp.shard, requested_by=inp.requested_by, started=list(self._started)[-STARTED_LIMIT:],
                    forwarded=self._forwarded, continue_after=inp.continue_after))

    async def _forward(self, inp: Hl7IntakeInput, batch: list[Hl7Message]) -> None:
        by_patient: dict[str, list[Hl7Message]] = {}
        for msg in batch:
            by_patient.setdefault(msg.derived_patient_id, []).append(msg)
        # One patient appears once per batch, so the patients' starts and signals may go out together.
        await asyncio.gather(*(self._signal(inp, key, msgs) if key in self._started else self._start(inp, key, msgs)
                               for key, msgs in by_patient.items()))
        self._forwarded += len(batch)
        self._in_run += len(batch)

    async def _start(self, inp: Hl7IntakeInput, key: str, msgs: list[Hl7Message], retry: bool = True) -> None:
        try:
            await workflow.start_child_workflow(
                Hl7IngestWorkflow.run, Hl7IngestInput(patient_key=key, requested_by=inp.requested_by, incoming=msgs),
                id=ingest_workflow_id(key), parent_close_policy=ParentClosePolicy.ABANDON)
        except WorkflowAlreadyStartedError:  # started outside this shard (an earlier run, the direct path)
            await self._signal(inp, key, msgs, retry=retry)
        self._started[key] = None

    async def _signal(self, inp: Hl7IntakeInput, key: str, msgs: list[Hl7Message], retry: bool = True) -> None:
        try:
            await workflow.get_external_workflow_handle(ingest_workflow_id(key)).signal(
                Hl7IngestWorkflow.receive_batch, msgs)
        except WorkflowAlreadyStartedError:
            raise
        except Exception:  # noqa: BLE001 - the inbox was closed (terminated by an operator): start it again
            if not retry:
                raise
            self._started.pop(key, None)
            await self._start(inp, key, msgs, retry=False)
