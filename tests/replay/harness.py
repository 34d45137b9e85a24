"""What every history recorder needs: a fresh migrated database, a ledger and a Temporal server.

    async with recording() as rec:          # time-skipping test server, demo hospital seeded
        async with journey_worker(rec.env, rec.engine, rec.ledger, "record"): ...

``dev_server=True`` uses the Temporal dev server instead (for what the time-skipping server
does not support, e.g. the signal-with-start batches of the HL7 intake); ``seed=False`` leaves
the database empty but for the schema. Histories go to ``OUT``.
"""
from __future__ import annotations

import os
import shutil
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from temporalio.testing import WorkflowEnvironment

from activities.storage.migrate import upgrade
from deploy.seed import seed_demo
from deploy.settings import Settings
from deploy.temporal_setup import ensure_search_attributes
from ledger.embedded import EmbeddedLedger
from ledger.keys import load_or_create_signing_key
from tests.conftest import create_database
from workflows.payload_converter import data_converter

OUT = Path(__file__).with_name("histories")


@dataclass
class Recording:
    env: WorkflowEnvironment
    engine: sa.Engine
    ledger: EmbeddedLedger
    home: Path


def _binary(name: str) -> str | None:
    return shutil.which(name, path=str(Path(sys.executable).parent))


@asynccontextmanager
async def recording(*, seed: bool = True, dev_server: bool = False) -> AsyncIterator[Recording]:
    url = create_database(os.environ.get("HMS_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1/postgres")
                          .replace("postgresql://", "postgresql+psycopg://"))
    upgrade(url)
    home = Path(f"/tmp/hms-record-{uuid.uuid4().hex[:6]}")
    if seed:
        seed_demo(Settings(home=home), url)
    engine = sa.create_engine(url)
    key, key_id = load_or_create_signing_key(home / "ledger.pem")
    ledger = EmbeddedLedger(engine, key, key_id)
    if dev_server:
        env = await WorkflowEnvironment.start_local(dev_server_existing_path=_binary("temporal"),
                                                    data_converter=data_converter,
                                                    dev_server_log_level="error")
    else:
        env = await WorkflowEnvironment.start_time_skipping(test_server_existing_path=_binary("temporal-test-server"),
                                                            data_converter=data_converter)
    try:
        await ensure_search_attributes(env.client)
        yield Recording(env, engine, ledger, home)
    finally:
        await env.shutdown()
        ledger.close()
        engine.dispose()
    print(f"histories written to {OUT}")


def add_replay_ward(engine: sa.Engine) -> None:
    """A ward without beds (on team-a), where an admission waits for the bed task."""
    with engine.begin() as c:
        c.execute(sa.text("INSERT INTO hms.wards (id, name) VALUES ('replay', 'Replay ward')"))
        c.execute(sa.text("UPDATE hms.care_teams SET wards = array_append(wards, 'replay') WHERE id = 'team-a'"))


async def admit_through_bed_task(env: WorkflowEnvironment, engine: sa.Engine, queue: str) -> tuple[Any, Any]:
    """A journey on the replay ward: no bed for 20 min, then one appears and the nurse's bed task assigns it.

    Returns (journey handle, finished admission handle).
    """
    from tests.integration.workflows.test_admission_journey import journey_input
    from workflows.contracts import TaskCompletion
    from workflows.journey import PatientJourney

    waiting = journey_input(ward="replay", deadline=600, retry=300)
    journey = await env.client.start_workflow(PatientJourney.run, waiting, id=waiting.journey_id, task_queue=queue)
    await env.sleep(1200)
    with engine.begin() as c:
        c.execute(sa.text("INSERT INTO hms.beds (id, ward_id, label) VALUES ('replay-01', 'replay', '01')"))
    admission = env.client.get_workflow_handle(f"admission-{waiting.encounter_id}")
    await admission.execute_update("complete_task", TaskCompletion(
        task_id=f"bed-management-{waiting.encounter_id}", actor="nurse-medical-1", role="nurse",
        payload={"bed_id": "replay-01"}))
    await admission.result()
    return journey, admission

