"""``hms worker`` and ``hms api``: each service runs alone, as the supervisor and the cluster run them."""
from __future__ import annotations

import asyncio
import logging
import signal
from concurrent.futures import ThreadPoolExecutor

from temporalio.worker import Worker

from activities.registry import build_activities
from activities.storage.db import make_session_factory
from deploy import telemetry, wiring
from deploy.settings import Settings
from deploy.telemetry.worker_metrics import start_worker_metrics
from workflows.registry import WORKFLOWS, workflow_runner

log = logging.getLogger("hms")


def build_worker(client, settings: Settings, *, task_queue: str | None = None,  # noqa: ANN001
                 executor: ThreadPoolExecutor | None = None, role: str = "journeys") -> Worker:
    """A worker of one role (``deploy.worker_roles``): what it registers and which queue it polls."""
    from deploy.worker_roles import resolve, select_activities, select_workflows
    from ml.runtime import ModelRegistry

    spec = resolve(role, settings)
    engine = wiring.database_engine(settings)
    activities = build_activities(make_session_factory(engine), wiring.build_ledger(settings, engine),
                                  ModelRegistry.load(), wiring.field_cipher(settings))
    return Worker(client, task_queue=task_queue or spec.task_queue, workflows=select_workflows(spec, WORKFLOWS),
                  activities=select_activities(spec, activities),
                  activity_executor=executor or ThreadPoolExecutor(max_workers=16), max_concurrent_activities=16,
                  workflow_runner=workflow_runner())


def run_worker(settings: Settings, role: str = "journeys") -> int:
    """Poll the role's task queue until SIGTERM/SIGINT, then finish in-flight tasks and exit."""
    telemetry.setup(settings, "hms-worker")  # logs in HMS_LOG_FORMAT, tracing per HMS_OTEL_TRACES
    start_worker_metrics(settings)  # HMS_WORKER_METRICS_PORT; before the client, whose runtime it sets

    async def main() -> None:
        client = await wiring.connect_temporal(settings)
        worker = build_worker(client, settings, role=role)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        async with worker:
            log.info("%s worker polling task queue %s on %s", role, worker.task_queue, settings.temporal_target)
            await stop.wait()
        log.info("worker stopped")

    asyncio.run(main())
    return 0


def run_api(settings: Settings) -> int:
    """Serve the task API over HTTPS, TLS 1.3 only, with the local CA's server certificate."""
    from activities.crypto.payload_codec import EncryptionCodec
    from api.app import create_app
    from api.auth import TokenVerifier
    from api.services import ApiServices
    from deploy.tls import ensure_tls, run_uvicorn_tls13
    from deploy.tokens import issuer_key
    from ml.runtime import ModelRegistry
    from workflows.hl7_outbound import parse_destinations

    telemetry.setup(settings, "hms-api")
    engine = wiring.database_engine(settings, pool_size=20)
    if settings.oidc_jwks_url:
        verifier = TokenVerifier(issuer=settings.oidc_issuer or "", audience=settings.token_audience,
                                 jwks_url=settings.oidc_jwks_url)
    else:
        verifier = TokenVerifier(issuer=settings.token_issuer, audience=settings.token_audience,
                                 public_key=issuer_key(settings).public_key())
    services = ApiServices(sessions=make_session_factory(engine), policy=wiring.build_policy(settings),
                           ledger=wiring.build_ledger(settings, engine), verifier=verifier,
                           index_key=wiring.index_key(settings), task_queue=settings.task_queue,
                           bed_wait_deadline_seconds=settings.bed_wait_deadline_seconds,
                           inference_task_queue=settings.inference_task_queue or None,
                           hl7_destinations=tuple(parse_destinations(settings.hl7_destinations)),
                           models=ModelRegistry.load(),
                           codec=EncryptionCodec(wiring.history_keys(settings)),
                           cipher=wiring.field_cipher(settings),
                           codec_origins=(f"http://127.0.0.1:{settings.temporal_ui_port}",
                                          f"http://localhost:{settings.temporal_ui_port}"))
    app = create_app(services, wiring.temporal_connector(settings))
    run_uvicorn_tls13(app, settings.host, settings.api_port, ensure_tls(settings))
    return 0
