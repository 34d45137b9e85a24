"""Tracing and request metrics for the task API, as one pure ASGI middleware.

Each HTTP request gets a server span that continues the caller's W3C ``traceparent`` and is named
and labelled by the *route template* (``/api/v1/patients/{patient_id}``), never the raw path: paths
carry patient, encounter and task ids, and query strings carry search terms. The same template and
the status class label the Prometheus request counter and latency histogram. Spans created while the
request runs (the Temporal client's ``StartWorkflow``/``StartWorkflowUpdate`` spans) are its children.
WebSocket and lifespan traffic passes through untouched.
"""
from __future__ import annotations

import inspect
import logging
import time
from typing import Any

from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.metrics import REQUEST_SECONDS, REQUESTS

_PROPAGATOR = TraceContextTextMapPropagator()
#: One DEBUG line per request (method, route template, status, milliseconds), inside the request's span so a
#: JSON log line carries its trace id; uvicorn's own access log (raw paths) stays off.
access_log = logging.getLogger("hms.api.access")
UNMATCHED = "unmatched"


def fastapi_options() -> dict[str, Any]:
    """Turn off FastAPI's own telemetry where the installed FastAPI has it (0.16x and later).

    Its server span records the raw ``url.path`` and ``url.query`` and its logs keep exception
    messages, which can quote patient data; this middleware records the route template instead.
    """
    if "telemetry" in inspect.signature(FastAPI.__init__).parameters:
        return {"telemetry": {"tracing": False, "metrics": False, "logs": False, "operation_spans": False}}
    return {}


def route_template(scope: Scope) -> str:
    """The matched route's path template; ``unmatched`` when routing found none (a 404 or a mount)."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) and path else UNMATCHED


def _carrier(scope: Scope) -> dict[str, str]:
    wanted = (b"traceparent", b"tracestate")
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", ()) if k in wanted}


class TelemetryMiddleware:
    """Opens one server span per HTTP request and records its count and latency by route template."""

    def __init__(self, app: ASGIApp, tracer: trace.Tracer | None = None) -> None:
        self.app = app
        self.tracer = tracer or trace.get_tracer("hms.api")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = str(scope.get("method", "GET"))
        status: dict[str, Any] = {"code": 500}

        async def send_and_note(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = int(message["status"])
            await send(message)

        start = time.perf_counter()
        context = _PROPAGATOR.extract(_carrier(scope))
        with self.tracer.start_as_current_span(method, context=context, kind=SpanKind.SERVER,
                                               record_exception=False, set_status_on_exception=False,
                                               attributes={"http.request.method": method,
                                                           "url.scheme": str(scope.get("scheme", "https"))}) as span:
            try:
                await self.app(scope, receive, send_and_note)
            except Exception as exc:
                status["code"], status["failed"] = 500, True
                # The type only: an exception's message may quote request data.
                span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
                raise
            finally:
                route = route_template(scope)
                code = status["code"]
                span.update_name(f"{method} {route}")
                span.set_attribute("http.route", route)
                span.set_attribute("http.response.status_code", code)
                if code >= 500 and not status.get("failed"):
                    span.set_status(Status(StatusCode.ERROR))
                REQUESTS.labels(method, route, f"{code // 100}xx").inc()
                elapsed = time.perf_counter() - start
                REQUEST_SECONDS.labels(method, route).observe(elapsed)
                if access_log.isEnabledFor(logging.DEBUG):
                    access_log.debug("%s %s %s %.1f ms", method, route, code, elapsed * 1000)
