"""``hms mllp`` as a process: AA means the message is in Temporal, even with no worker running yet."""
from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from hl7.client import MLLPClient
from temporalio.testing import WorkflowEnvironment

from api.hl7.batching import shard_of
from api.hl7.parse import derived_patient_id
from tests.unit.hl7.samples import ack_fields, adt, control_id
from workflows.hl7_ingest import ingest_workflow_id
from workflows.hl7_intake import intake_workflow_id

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("shards", [4, 0])
async def test_hms_mllp_acknowledges_after_the_durable_hand_over(
        temporal_env: WorkflowEnvironment, migrated_database_url: str, tmp_path: Path, shards: int) -> None:
    port, queue = _free_port(), f"no-worker-{uuid.uuid4()}"
    env = {**os.environ, "HMS_HOME": str(tmp_path), "HMS_MLLP_PORT": str(port), "HMS_TASK_QUEUE": queue,
           "HMS_HL7_INTAKE_SHARDS": str(shards),
           "HMS_DATABASE_URL": migrated_database_url,
           "HMS_TEMPORAL_ADDRESS": temporal_env.client.service_client.config.target_host}
    proc = subprocess.Popen([sys.executable, "-m", "deploy.cli", "mllp"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "hms mllp did not start"
                await asyncio.sleep(0.2)
        cid = control_id()

        def send() -> list[str]:
            with MLLPClient("127.0.0.1", port) as c:
                return [c.send_message(m).decode().strip("\x0b\x1c\r")
                        for m in (adt("A01", mrn="MRN-SVC-1", cid=cid), adt("A01", mrn="MRN-SVC-1", ward="nowhere"))]
        accepted, unknown_ward = await asyncio.to_thread(send)
        assert ack_fields(accepted)["MSA"][1:3] == ["AA", cid]
        assert ack_fields(unknown_ward)["MSA"][1] == "AE" and ack_fields(unknown_ward)["ERR"][2] == "PV1^1^3"
        index_key = (tmp_path / "keys" / "index.key").read_bytes()
        key = derived_patient_id(index_key, "urn:hms:mrn", "MRN-SVC-1")
        # No worker polls this queue: the message is held by the server, in the shard or the inbox.
        workflow_id = intake_workflow_id(queue, shard_of(key, shards)) if shards else ingest_workflow_id(key)
        described = await temporal_env.client.get_workflow_handle(workflow_id).describe()
        assert described.workflow_type == ("Hl7IntakeWorkflow" if shards else "Hl7IngestWorkflow")
        assert described.task_queue == queue
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err.decode()[-2000:]
    assert b"MRN-SVC-1" not in err  # no message content in the service's log
