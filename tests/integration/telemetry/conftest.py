"""The real API and worker (PostgreSQL, Temporal dev server) traced, metered and logged as the services are.

The app, the policy engine and the ledger are built the way ``deploy`` builds them (``wiring.build_policy``,
``MeteredLedger``); the Temporal client carries ``TracingInterceptor`` as ``wiring.connect_temporal`` gives it
when tracing is on, and the worker is built from that client, so it inherits the interceptor.
"""
from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.registry import build_activities
from activities.storage.db import make_session_factory
from api.app import create_app
from api.auth import TokenVerifier
from api.services import ApiServices
from deploy import wiring
from deploy.settings import Settings
from deploy.telemetry import temporal_interceptors
from deploy.telemetry.metered import MeteredLedger
from deploy.telemetry.redact import RedactingSpanProcessor
from deploy.tokens import issue_token, issuer_key
from ledger.embedded import EmbeddedLedger
from ml.runtime import ModelRegistry
from workflows.registry import WORKFLOWS

Auth = Callable[[str, str], dict[str, str]]


@pytest.fixture(scope="session")
def telemetry_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(home=Path(tmp_path_factory.mktemp("hms-telemetry-home")), otel_traces="file")


@pytest.fixture(scope="session")
def spans() -> InMemorySpanExporter:
    """Every span this process finishes, after the same redaction the services apply.

    The global provider can be set once per process: the first telemetry test sets it (the services
    call ``configure_tracing`` the same way); the API middleware and the interceptor use the global one.
    """
    exporter = InMemorySpanExporter()
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        provider.add_span_processor(RedactingSpanProcessor())
        trace.set_tracer_provider(provider)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


@pytest.fixture
async def traced_api(spans: InMemorySpanExporter, temporal_env: WorkflowEnvironment, db_engine: sa.Engine,
                     ledger: EmbeddedLedger, task_queue: str, telemetry_settings: Settings,
                     model_registry: ModelRegistry) -> AsyncIterator[httpx.AsyncClient]:
    interceptors = temporal_interceptors(telemetry_settings)
    assert interceptors, "file tracing turns the Temporal interceptor on"
    client = Client(**{**temporal_env.client.config(), "interceptors": interceptors})
    metered = MeteredLedger(ledger)
    sessions = make_session_factory(db_engine)
    services = ApiServices(
        sessions=sessions, policy=wiring.build_policy(telemetry_settings), ledger=metered,
        verifier=TokenVerifier(issuer=telemetry_settings.token_issuer, audience=telemetry_settings.token_audience,
                               public_key=issuer_key(telemetry_settings).public_key()),
        index_key=b"k" * 32, task_queue=task_queue, temporal=client, models=model_registry)
    worker = Worker(client, task_queue=task_queue, workflows=WORKFLOWS,
                    activities=build_activities(sessions, metered, model_registry),
                    activity_executor=ThreadPoolExecutor(8))
    async with worker:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(services)),
                                     base_url="https://hms.test") as http:
            yield http


@pytest.fixture
def auth(telemetry_settings: Settings) -> Auth:
    def headers(user: str, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {issue_token(telemetry_settings, user, role)}"}

    return headers
