"""A real admission journey (task API → Temporal → activities) seen on a ward stream."""
from __future__ import annotations

import httpx
import pytest
import sqlalchemy as sa
from temporalio.testing import WorkflowEnvironment

from deploy.stream_client import subscribe
from ledger.embedded import EmbeddedLedger
from ml.runtime import ModelRegistry
from tests.integration.api.test_admissions_api import admission_body
from tests.integration.conftest import journey_worker
from tests.integration.streams.conftest import Stack

pytestmark = pytest.mark.integration


async def test_an_admission_streams_its_stages_to_the_ward(stack: Stack, temporal_env: WorkflowEnvironment,
                                                           db_engine: sa.Engine, ledger: EmbeddedLedger,
                                                           model_registry: ModelRegistry) -> None:
    stack.services.temporal = temporal_env.client
    settings = stack.settings
    async with journey_worker(temporal_env, db_engine, ledger, stack.services.task_queue, model_registry):
        async with subscribe(settings, "/ws/wards/medical", stack.token("nurse-medical-1", "nurse")) as events:
            async with httpx.AsyncClient(base_url=settings.api_base_url, verify=str(settings.ca_cert)) as api:
                r = await api.post("/api/v1/admissions", json=admission_body(ward="medical"),
                                   headers={"Authorization": f"Bearer {stack.token('registration-1', 'registration_clerk')}"})
            assert r.status_code in (201, 202), r.text
            patient, encounter = r.json()["patient_id"], r.json()["encounter_id"]
            # Each event carries the encounter as it is when pushed: the first may already show "admitted".
            admitted = await events.next(lambda e: e["patient_id"] == patient and e["kind"] == "stage"
                                         and e["data"]["stage"] == "admitted", timeout=60)
    assert admitted["ref"] == encounter and admitted["ward"] == "medical"
    assert admitted["data"]["journey_id"] == f"journey-{encounter}" and admitted["data"]["status"] == "in-progress"
