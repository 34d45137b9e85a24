"""The real API app served by a real uvicorn over TLS 1.3 on an ephemeral port, on real PostgreSQL.

No workflow engine: the streams read the store only, and the tests write to it the way
the activities do (vitals, task rows, encounter status), so the database triggers are
what is exercised.
"""
from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from activities.storage import repository as repo
from activities.storage import tasks as task_store
from activities.storage.db import make_session_factory
from activities.storage.models_triage import VitalSigns
from api.app import create_app
from api.auth import TokenVerifier
from api.services import ApiServices
from api.streams.config import StreamConfig
from deploy.settings import Settings
from deploy.tls import ensure_tls, tls13_uvicorn_server
from deploy.tokens import issue_token, issuer_key
from ledger.embedded import EmbeddedLedger
from policies.embedded import EmbeddedPolicyEngine

#: Short re-checks and auth waits so revocation and missing-token cases end quickly.
TEST_CONFIG = StreamConfig(recheck_seconds=1.0, auth_timeout_seconds=1.0, queue_size=64, send_timeout_seconds=5.0)


@dataclass
class Stack:
    settings: Settings
    services: ApiServices
    app: object

    def token(self, user: str, role: str) -> str:
        return issue_token(self.settings, user, role)


@pytest.fixture(scope="session")
async def stack(db_engine: sa.Engine, ledger: EmbeddedLedger,
                tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    home = Path(tmp_path_factory.mktemp("hms-streams-home"))
    settings = Settings(home=home)
    services = ApiServices(
        sessions=make_session_factory(db_engine), policy=EmbeddedPolicyEngine(), ledger=ledger,
        verifier=TokenVerifier(issuer=settings.token_issuer, audience=settings.token_audience,
                               public_key=issuer_key(settings).public_key()),
        index_key=b"k" * 32, task_queue="streams-test")
    app = create_app(services)
    app.state.stream_config = TEST_CONFIG
    server = tls13_uvicorn_server(app, "127.0.0.1", 0, ensure_tls(settings))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    hub = app.state.stream_hub
    await asyncio.wait_for(hub.listening.wait(), 10)
    yield Stack(settings=Settings(home=home, api_port=port), services=services, app=app)
    server.should_exit = True
    await task


@pytest.fixture
def admit(stack: Stack) -> Callable[..., tuple[str, str]]:
    """Register and admit a patient (ward, attending) as the admission activities do; (patient, encounter)."""

    def _admit(ward: str = "medical", attending: str = "attending-1") -> tuple[str, str]:
        services = stack.services
        patient_id, encounter_id = str(uuid.uuid4()), str(uuid.uuid4())
        with services.sessions() as s:
            patient_id, _ = repo.register_patient(s, services.field_cipher, patient_id, "urn:test:mrn",
                                                  uuid.uuid4().hex, "Asha", "Verma", date(1980, 1, 2), "female")
            repo.create_encounter(s, encounter_id, patient_id, f"journey-{encounter_id}", ward, "test stay")
            repo.assign_care_team(s, encounter_id, ward, attending)
            repo.set_encounter_status(s, encounter_id, "in-progress", datetime.now(UTC))
            s.commit()
        return patient_id, encounter_id

    return _admit


def record_vitals(stack: Stack, patient_id: str, encounter_id: str | None, **values: object) -> str:
    """One set of bedside vitals, written as the triage activity writes it."""
    vitals_id = f"v-{uuid.uuid4().hex[:12]}"
    with stack.services.sessions() as s:
        s.execute(sa.insert(VitalSigns).values(
            id=vitals_id, patient_id=patient_id, encounter_id=encounter_id, triage_id=f"t-{vitals_id}",
            status="final", values=values or {"heart_rate": 88, "spo2": 97}, effective_at=datetime.now(UTC),
            recorded_by="nurse-medical-1"))
        s.commit()
    return vitals_id


def open_task(stack: Stack, patient_id: str, encounter_id: str, ward: str = "medical", role: str = "nurse") -> str:
    task_id = f"task-{uuid.uuid4().hex[:12]}"
    with stack.services.sessions() as s:
        task_store.upsert_task(s, {
            "id": task_id, "type": "bed-management", "role": role, "ward_id": ward, "patient_id": patient_id,
            "encounter_id": encounter_id, "journey_id": f"journey-{encounter_id}", "workflow_id": "wf",
            "status": "open", "due": None, "details": {}, "created_at": datetime.now(UTC)})
        s.commit()
    return task_id


def complete_task(stack: Stack, task_id: str) -> None:
    with stack.services.sessions() as s:
        task_store.close_task(s, task_id, "completed", "nurse-medical-1", datetime.now(UTC))
        s.commit()
