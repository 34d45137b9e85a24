"""Policy engine down → denied: the real app over real services, with an engine that cannot answer.

Two ways down: an engine that raises (a broken backend or client library) and the embedded
engine over a bundle that does not load. Either way every request is refused with 403, the
refusal is recorded in the ledger, and no patient data leaves.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from temporalio.testing import WorkflowEnvironment

from activities.storage.db import make_session_factory
from api.app import create_app
from api.auth import TokenVerifier
from api.services import ApiServices
from deploy.settings import Settings
from deploy.tokens import issuer_key
from ledger.embedded import EmbeddedLedger
from policies.embedded import EmbeddedPolicyEngine
from policies.engine import Decision
from tests.integration.security.test_consent_api import ATTENDING, REGISTRATION, admit

pytestmark = pytest.mark.integration
Auth = Callable[..., dict[str, str]]


class RaisingEngine:
    """A policy backend that fails instead of answering (the engine contract says it never should)."""

    def decide(self, input: Mapping[str, Any]) -> Decision:  # noqa: A002
        raise ConnectionError("policy backend unreachable")


def _app(policy: Any, engine: sa.Engine, ledger: EmbeddedLedger, settings: Settings,
         env: WorkflowEnvironment, queue: str) -> httpx.AsyncClient:
    services = ApiServices(
        sessions=make_session_factory(engine), policy=policy, ledger=ledger,
        verifier=TokenVerifier(issuer=settings.token_issuer, audience=settings.token_audience,
                               public_key=issuer_key(settings).public_key()),
        index_key=b"k" * 32, task_queue=queue, temporal=env.client)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(services)), base_url="https://hms.test")


@pytest.mark.parametrize("broken", ["raises", "bundle-missing"])
async def test_policy_engine_down_denies_and_records(broken: str, api: httpx.AsyncClient, auth: Auth, tmp_path: Path,
                                                     db_engine: sa.Engine, ledger: EmbeddedLedger,
                                                     api_settings: Settings, temporal_env: WorkflowEnvironment,
                                                     task_queue: str) -> None:
    patient, _ = await admit(api, auth)
    policy = RaisingEngine() if broken == "raises" else EmbeddedPolicyEngine(tmp_path / "no-bundle")
    async with _app(policy, db_engine, ledger, api_settings, temporal_env, task_queue) as down:
        read = await down.get(f"/api/v1/patients/{patient}", headers=auth(*ATTENDING))
        assert read.status_code == 403
        assert read.json()["detail"].startswith("policy engine unavailable: ")
        assert "Iyer" not in read.text  # nothing of the record left
        consents = await down.get(f"/api/v1/patients/{patient}/consents", headers=auth(*REGISTRATION))
        assert consents.status_code == 403
    entries = [e.event for e in ledger.query(patient_id=patient) if e.event.subtype in ("patient.read",
                                                                                      "consent.read")]
    assert [(e.subtype, e.decision, e.outcome) for e in entries] == [("patient.read", "deny", "4"),
                                                                      ("consent.read", "deny", "4")]
    assert all(e.reason.startswith("policy engine unavailable: ") for e in entries)
