"""The task API's admission carries ``HMS_HL7_DESTINATIONS`` to its journey: the A01 and the order's ORM^O01 go out."""
from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from temporalio.testing import WorkflowEnvironment

from activities.storage.db import make_session_factory
from api.app import create_app
from api.auth import TokenVerifier
from api.services import ApiServices
from deploy.settings import Settings
from deploy.tokens import issue_token, issuer_key
from ledger.embedded import EmbeddedLedger
from ml.runtime import ModelRegistry
from policies.embedded import EmbeddedPolicyEngine
from tests.integration.conftest import journey_worker
from tests.integration.hl7.receiver import Receiver

pytestmark = pytest.mark.integration


async def test_an_api_admission_and_its_imaging_order_are_sent(
        temporal_env: WorkflowEnvironment, db_engine: sa.Engine, ledger: EmbeddedLedger, task_queue: str,
        model_registry: ModelRegistry, tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    receiver = Receiver()
    await receiver.start()
    services = ApiServices(
        sessions=make_session_factory(db_engine), policy=EmbeddedPolicyEngine(), ledger=ledger,
        verifier=TokenVerifier(issuer=settings.token_issuer, audience=settings.token_audience,
                               public_key=issuer_key(settings).public_key()),
        index_key=b"k" * 32, task_queue=task_queue, temporal=temporal_env.client, models=model_registry,
        hl7_destinations=(receiver.destination,))

    def auth(user: str, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {issue_token(settings, user, role)}"}

    mrn = f"MRN-{uuid.uuid4().hex[:10]}"
    body = {"patient": {"identifier": mrn, "given": "Ravi", "family": "Iyer", "birth_date": "1975-02-03",
                        "gender": "male"}, "ward": "medical", "reason": "chest pain", "consent": True,
            "attending": "attending-1"}
    try:
        async with journey_worker(temporal_env, db_engine, ledger, task_queue, model_registry), httpx.AsyncClient(
                transport=httpx.ASGITransport(app=create_app(services)), base_url="https://hms.test") as api:
            r = await api.post("/api/v1/admissions", json=body, headers=auth("registration-1", "registration_clerk"))
            assert r.status_code == 202, r.text
            out = r.json()
            a01 = await receiver.wait_for("ADT^A01")
            order = await api.post(f"/api/v1/journeys/{out['journey_id']}/imaging-orders",
                                   json={"modality": "CR", "body_site": "51185008", "reason_code": "R07.9"},
                                   headers=auth("attending-1", "attending_physician"))
            assert order.status_code == 202, order.text
            orm = await receiver.wait_for("ORM^O01")
    finally:
        await receiver.stop()
    assert a01.control_id == f"A01-{out['encounter_id']}" and a01.field("PID", 3).startswith(mrn)
    assert orm.field("ORC", 2) == order.json()["order_id"]
