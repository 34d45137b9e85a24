"""Group commit on the listener side: one signal per intake shard for whatever arrived meanwhile.

Each shard has one flusher: it takes every message queued for the shard (up to ``max_batch``),
signals-with-start the shard's ``Hl7IntakeWorkflow`` once, and only then resolves each message's waiter,
so each ``AA`` still follows a persisted signal. One flush per shard at a time keeps a
patient's messages (always the same shard) in order.
"""
from __future__ import annotations

import asyncio
import hashlib

from temporalio.client import Client

from api.hl7.handover import TemporalHandOver
from workflows.hl7_contracts import Hl7IntakeInput, Hl7Message
from workflows.hl7_intake import Hl7IntakeWorkflow, intake_workflow_id

MAX_BATCH = 200


def shard_of(patient_key: str, shards: int) -> int:
    return int.from_bytes(hashlib.sha256(patient_key.encode()).digest()[:4], "big") % shards


class BatchingHandOver:
    def __init__(self, client: Client, task_queue: str, shards: int = 4, requested_by: str = "hl7-interface",
                 max_batch: int = MAX_BATCH) -> None:
        self._client, self._queue, self._by = client, task_queue, requested_by
        self._shards, self._max = shards, max_batch
        self._pending: list[list[tuple[Hl7Message, asyncio.Future[None]]]] = [[] for _ in range(shards)]
        self._flushing: list[asyncio.Task[None] | None] = [None] * shards

    async def __call__(self, msg: Hl7Message) -> None:
        shard = shard_of(msg.derived_patient_id, self._shards)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending[shard].append((msg, done))
        task = self._flushing[shard]
        if task is None or task.done():
            self._flushing[shard] = asyncio.create_task(self._flush(shard))
        await asyncio.shield(done)

    async def _flush(self, shard: int) -> None:
        while self._pending[shard]:
            batch, self._pending[shard] = self._pending[shard][: self._max], self._pending[shard][self._max:]
            try:
                await self._client.start_workflow(
                    Hl7IntakeWorkflow.run, Hl7IntakeInput(shard=shard, requested_by=self._by),
                    id=intake_workflow_id(self._queue, shard), task_queue=self._queue,
                    start_signal="receive", start_signal_args=[[m for m, _ in batch]])
            except Exception as exc:  # noqa: BLE001 - every waiter of this batch answers AR
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(exc)
                continue
            for _, fut in batch:
                if not fut.done():
                    fut.set_result(None)


def make_hand_over(client: Client, task_queue: str, shards: int) -> BatchingHandOver | TemporalHandOver:
    """Group commit through ``shards`` intake shards, or (0 shards) one signal-with-start per message."""
    return BatchingHandOver(client, task_queue, shards) if shards > 0 else TemporalHandOver(client, task_queue)
