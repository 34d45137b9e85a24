"""Tracing set-up from Settings: one tracer provider per service, W3C trace context, Temporal interceptor.

A request's trace runs API request span → ``StartWorkflow``/``StartWorkflowUpdate``/``SignalWorkflow``
client spans → ``RunWorkflow``/``HandleUpdate`` spans in the worker → ``StartActivity``/``RunActivity``
spans, because the API's and the worker's Temporal clients both carry
``temporalio.contrib.opentelemetry.TracingInterceptor`` (a worker built from a client inherits the
client's interceptors that are also worker interceptors) and the context travels in Temporal headers.
Workflow spans are zero-length markers (the SDK cannot keep a span open across replays).
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from deploy.telemetry.exporters import build_exporter
from deploy.telemetry.redact import RedactingSpanProcessor

if TYPE_CHECKING:
    from deploy.settings import Settings

log = logging.getLogger("hms.telemetry")

SERVICES = ("hms-api", "hms-worker", "hms-mllp")


def traces_mode(settings: Settings) -> str:
    """``HMS_OTEL_TRACES``; an ``HMS_OTEL_ENDPOINT`` alone means OTLP."""
    if settings.otel_traces != "none":
        return settings.otel_traces
    return "otlp" if settings.otel_endpoint else "none"


def tracing_enabled(settings: Settings) -> bool:
    return traces_mode(settings) != "none"


def build_tracer_provider(settings: Settings, service: str, processors: tuple[SpanProcessor, ...] = (),
                          exporter: SpanExporter | None = None) -> TracerProvider:
    """A provider named ``service`` whose spans are redacted first, then exported as configured.

    ``processors`` adds span processors (tests pass an in-memory exporter's).
    """
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(RedactingSpanProcessor())
    exporter = exporter or build_exporter(traces_mode(settings), file=settings.log_dir / "traces.jsonl",
                                          endpoint=settings.otel_endpoint)
    if exporter is not None:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    for processor in processors:
        provider.add_span_processor(processor)
    return provider


def configure_tracing(settings: Settings, service: str) -> TracerProvider | None:
    """Install the global tracer provider and the W3C ``traceparent`` propagator; None when no span would leave."""
    mode = traces_mode(settings)
    if mode == "none":
        return None
    exporter = build_exporter(mode, file=settings.log_dir / "traces.jsonl", endpoint=settings.otel_endpoint)
    if exporter is None:  # OTLP asked for but not installed or not addressed: already logged why
        return None
    provider = build_tracer_provider(settings, service, exporter=exporter)
    trace.set_tracer_provider(provider)
    # W3C trace context only: baggage from a caller is not carried into Temporal headers.
    propagate.set_global_textmap(TraceContextTextMapPropagator())
    log.info("tracing: %s spans exported by %s", service, mode)
    return provider


def temporal_interceptors(settings: Settings) -> list:
    """``[TracingInterceptor()]`` when tracing is on, else nothing (no per-call cost when it is off)."""
    if not tracing_enabled(settings):
        return []
    from temporalio.contrib.opentelemetry import TracingInterceptor

    return [TracingInterceptor()]
