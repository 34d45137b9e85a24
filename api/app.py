"""The FastAPI application: task API routers, error shapes, and the workflow-engine connection."""
from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from sqlalchemy.exc import InterfaceError, OperationalError
from temporalio.client import Client
from temporalio.service import RPCError

from activities.crypto.fields import DataErased
from api import metrics as metrics_route
from api import streams
from api.fhir import routes as fhir_r4
from api.routes import (
    admissions,
    audit,
    billing,
    break_glass,
    codec,
    consents,
    corrections,
    decision_support,
    discharge,
    erasure,
    fhir_audit,
    health,
    imaging,
    intake,
    journeys,
    notes,
    operations,
    patients,
    pharmacy,
    tasks,
    triage_flow,
)
from api.services import ApiServices
from api.telemetry import TelemetryMiddleware, fastapi_options

#: What a 503 for an engine outage asks clients to wait before retrying (the supervisor restarts
#: a dead engine within seconds).
RETRY_AFTER_SECONDS = "2"


def create_app(services: ApiServices, connect_temporal: Callable[[], Awaitable[Client]] | None = None) -> FastAPI:
    """Build the app; ``connect_temporal`` is awaited at start-up when no client was given."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if services.temporal is None and connect_temporal is not None:
            services.temporal = await connect_temporal()
        await streams.start_listener(app)
        yield
        await streams.stop_listener(app)
        if services.async_reads is not None:
            await services.async_reads.aclose()

    app = FastAPI(title="HMS task API", version="1", lifespan=lifespan, **fastapi_options())
    app.state.services = services
    if services.codec_origins:  # the Temporal UI calls /codec from the browser
        app.add_middleware(CORSMiddleware, allow_origins=list(services.codec_origins), allow_credentials=True,
                           allow_methods=["POST"], allow_headers=["Authorization", "Content-Type", "X-Namespace"])
    for module in (health, admissions, journeys, tasks, patients, decision_support, audit, fhir_audit, imaging,
                   pharmacy, triage_flow, intake, discharge, billing, notes, break_glass, codec, erasure,
                   consents, corrections, fhir_r4, operations):
        app.include_router(module.router)
    app.include_router(streams.router)
    app.include_router(metrics_route.router)
    app.add_middleware(TelemetryMiddleware)  # a span and request metrics per HTTP request (api/telemetry.py)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        messages = []
        for err in errors:
            loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
            messages.append(f"{loc or 'body'}: {err.get('msg')}")
        return JSONResponse(status_code=422, content={"detail": "; ".join(messages),
                                                      "errors": [{"loc": e.get("loc"), "msg": e.get("msg"),
                                                                  "type": e.get("type")} for e in errors]})

    @app.exception_handler(DataErased)
    async def _erased(request: Request, exc: DataErased) -> JSONResponse:
        # The patient's data key was destroyed (crypto-shredding): the record is gone for good.
        return JSONResponse(status_code=410, content={"detail": str(exc), "erased": True,
                                                      "erased_at": exc.erased_at.isoformat() if exc.erased_at
                                                      else None})

    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)
    async def _db_down(request: Request, exc: Exception) -> JSONResponse:
        # A lost or refused database connection is an outage the client should wait out, not a bug (500).
        return JSONResponse(status_code=503, content={"detail": "the database is unavailable; try again"},
                            headers={"Retry-After": RETRY_AFTER_SECONDS})

    @app.exception_handler(RPCError)
    async def _temporal_down(request: Request, exc: RPCError) -> JSONResponse:
        return JSONResponse(status_code=503, content={"detail": "the workflow engine is unavailable; try again"},
                            headers={"Retry-After": RETRY_AFTER_SECONDS})

    return app
