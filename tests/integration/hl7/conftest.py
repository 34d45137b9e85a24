"""The MLLP listener on an ephemeral port, handing over to the real dev server, applied by a real worker."""
from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from hl7.client import MLLPClient
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from activities.crypto.fields import ephemeral_cipher
from activities.storage import repository as repo
from activities.storage.db import make_session_factory
from api.hl7.batching import BatchingHandOver
from api.hl7.handler import Hl7Handler, WardCache
from api.hl7.handover import TemporalHandOver
from api.hl7.listener import MllpListener
from api.hl7.order_gate import OrderGate
from api.hl7.parse import derived_patient_id, identifier_system
from ledger.embedded import EmbeddedLedger
from tests.integration.conftest import journey_worker
from workflows.hl7_contracts import Hl7IngestState
from workflows.hl7_ingest import Hl7IngestWorkflow, ingest_workflow_id


@dataclass
class Mllp:
    port: int
    index_key: bytes
    client: Client

    async def send(self, *messages: str) -> list[str]:
        """Send over one connection with python-hl7's MLLPClient; the ACKs, unframed."""
        def run() -> list[str]:
            with MLLPClient("127.0.0.1", self.port) as c:
                return [c.send_message(m).decode().strip("\x0b\x1c\r") for m in messages]
        return await asyncio.to_thread(run)

    def workflow_id(self, mrn: str, authority: str = "HMS") -> str:
        return ingest_workflow_id(derived_patient_id(self.index_key, identifier_system(authority), mrn))

    async def wait_processed(self, mrn: str, count: int, timeout: float = 60.0) -> Hl7IngestState:
        handle = self.client.get_workflow_handle(self.workflow_id(mrn))
        state = None
        for _ in range(int(timeout * 10)):
            try:
                state = await handle.query(Hl7IngestWorkflow.state)
            except RPCError as exc:  # the intake shard has not started the inbox yet
                if exc.status != RPCStatusCode.NOT_FOUND:
                    raise
                await asyncio.sleep(0.1)
                continue
            if state.processed >= count and state.pending == 0:
                return state
            await asyncio.sleep(0.1)
        raise AssertionError(f"inbox did not process {count} messages: {state}")


@pytest.fixture(params=["batched", "direct"])
async def mllp(request: pytest.FixtureRequest, temporal_env: WorkflowEnvironment, db_engine: sa.Engine,
               ledger: EmbeddedLedger, task_queue: str) -> AsyncIterator[Mllp]:
    """The listener (with its order checks) and each hand-over: group commit through intake shards, or one
    signal per message."""
    index_key = os.urandom(32)
    sessions = make_session_factory(db_engine)

    def wards() -> list[str]:
        with sessions() as s:
            return repo.ward_ids(s)

    hand_over = (BatchingHandOver(temporal_env.client, task_queue, shards=2) if request.param == "batched"
                 else TemporalHandOver(temporal_env.client, task_queue))
    listener = MllpListener(Hl7Handler(index_key, hand_over, WardCache(wards), OrderGate(sessions, ephemeral_cipher())))
    port = await listener.start("127.0.0.1", 0)
    try:
        async with journey_worker(temporal_env, db_engine, ledger, task_queue):
            yield Mllp(port, index_key, temporal_env.client)
    finally:
        await listener.close()
