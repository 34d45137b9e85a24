"""The API's middleware: one server span per request, named by route template, continuing ``traceparent``."""
from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI, HTTPException
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import REGISTRY

from api.telemetry import TelemetryMiddleware, fastapi_options

PATIENT = "pat-7f3e2c"


@pytest.fixture
def traced() -> tuple[httpx.AsyncClient, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    # As create_app does: FastAPI's own spans (through the global provider another test may have set)
    # would otherwise sit between the middleware's span and the route's.
    app = FastAPI(**fastapi_options())

    @app.get("/api/v1/patients/{patient_id}")
    async def patient(patient_id: str) -> dict:
        # a span opened inside the request (as the Temporal client's are) is its child
        with trace.get_tracer("inner", tracer_provider=provider).start_as_current_span("StartWorkflow:Journey"):
            pass
        if patient_id == "missing":
            raise HTTPException(404, "no such patient")
        return {"id": patient_id}

    @app.get("/boom")
    async def boom() -> dict:
        raise RuntimeError(f"failed for {PATIENT}")

    app.add_middleware(TelemetryMiddleware, tracer=provider.get_tracer("hms.api"))
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
                               base_url="https://hms.test")
    return client, exporter


def _sample(route: str, status_class: str) -> float:
    return REGISTRY.get_sample_value("hms_api_requests_total",
                                     {"method": "GET", "route": route, "status_class": status_class}) or 0.0


async def test_span_named_by_route_template_never_by_path(traced: tuple[httpx.AsyncClient, InMemorySpanExporter]) -> None:
    client, exporter = traced
    before = _sample("/api/v1/patients/{patient_id}", "2xx")
    r = await client.get(f"/api/v1/patients/{PATIENT}?name=Iyer")
    assert r.status_code == 200
    inner, server = exporter.get_finished_spans()
    assert server.name == "GET /api/v1/patients/{patient_id}" and server.kind == trace.SpanKind.SERVER
    assert dict(server.attributes) == {"http.request.method": "GET", "url.scheme": "https",
                                       "http.route": "/api/v1/patients/{patient_id}",
                                       "http.response.status_code": 200}
    assert inner.parent is not None and inner.parent.span_id == server.context.span_id
    assert PATIENT not in str(server.to_json()) and "Iyer" not in str(server.to_json())
    assert _sample("/api/v1/patients/{patient_id}", "2xx") == before + 1


async def test_incoming_traceparent_is_continued(traced: tuple[httpx.AsyncClient, InMemorySpanExporter]) -> None:
    client, exporter = traced
    parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    await client.get("/api/v1/patients/missing", headers={"traceparent": parent})
    server = exporter.get_finished_spans()[-1]
    assert format(server.context.trace_id, "032x") == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert server.parent is not None and format(server.parent.span_id, "016x") == "00f067aa0ba902b7"
    assert server.attributes["http.response.status_code"] == 404


async def test_unrouted_and_failing_requests(traced: tuple[httpx.AsyncClient, InMemorySpanExporter]) -> None:
    client, exporter = traced
    before = _sample("unmatched", "4xx")
    assert (await client.get(f"/no/such/{PATIENT}")).status_code == 404
    assert _sample("unmatched", "4xx") == before + 1
    assert (await client.get("/boom")).status_code == 500
    failed = exporter.get_finished_spans()[-1]
    assert failed.name == "GET /boom" and failed.status.status_code == trace.StatusCode.ERROR
    assert failed.status.description == "RuntimeError" and not failed.events  # no exception message kept
    assert all(PATIENT not in s.to_json() for s in exporter.get_finished_spans())
