"""The real API app (real policy engine, ledger, PostgreSQL, Temporal dev server) in-process over ASGI."""
from __future__ import annotations

from collections.abc import AsyncIterator, Callable
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


@pytest.fixture(scope="session")
def api_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(home=Path(tmp_path_factory.mktemp("hms-api-home")))


@pytest.fixture
async def api(temporal_env: WorkflowEnvironment, db_engine: sa.Engine, ledger: EmbeddedLedger, task_queue: str,
              api_settings: Settings, model_registry: ModelRegistry) -> AsyncIterator[httpx.AsyncClient]:
    services = ApiServices(
        sessions=make_session_factory(db_engine), policy=EmbeddedPolicyEngine(), ledger=ledger,
        verifier=TokenVerifier(issuer=api_settings.token_issuer, audience=api_settings.token_audience,
                               public_key=issuer_key(api_settings).public_key()),
        index_key=b"k" * 32, task_queue=task_queue, temporal=temporal_env.client, models=model_registry)
    app = create_app(services)
    async with journey_worker(temporal_env, db_engine, ledger, task_queue, model_registry):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://hms.test") as client:
            yield client


@pytest.fixture
def auth(api_settings: Settings) -> Callable[..., dict[str, str]]:
    """Authorization headers for a demo user."""

    def headers(user: str, role: str, ttl: int | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {issue_token(api_settings, user, role, ttl=ttl)}"}

    return headers
