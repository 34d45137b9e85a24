"""Spans never keep a workflow id (it embeds encounter and patient ids), only its kind."""
from __future__ import annotations

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from deploy.telemetry.redact import RedactingSpanProcessor, workflow_kind


def test_workflow_kind_keeps_the_words_before_the_ids() -> None:
    assert workflow_kind("journey-5b1c0c1e-9a4e-4c5e-8f53-2d0f6a7f7f11") == "journey-*"
    assert workflow_kind("discharge-summary-enc-42") == "discharge-summary-enc-*"
    assert workflow_kind("surge-watch") == "surge-*"
    assert workflow_kind("journey-deadbeef-cafe-4c5e-8f53-2d0f6a7f7f11") == "journey-*"
    assert workflow_kind("hl7-ingest-9f0e1d2c3b4a") == "hl7-ingest-*"
    assert workflow_kind("break-glass-grant-abc") == "break-glass-grant-*"
    assert workflow_kind("3f2a-journey") == "*"
    assert workflow_kind("") == "*"


def test_processor_rewrites_temporal_ids_and_keeps_run_and_activity_ids() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(RedactingSpanProcessor())
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("StartUpdateWithStartWorkflow:Journey", attributes={
            "temporalWorkflowID": "erasure-pat-8c1d", "temporalUpdateID": "complete-bed-enc-1",
            "temporalRunID": "0b9e6c39-3c2e-4b0e-9d7c-31f6a0a9d1c2", "temporalActivityID": "3"}):
        pass
    (span,) = exporter.get_finished_spans()
    assert span.attributes == {"temporalWorkflowID": "erasure-pat-*", "temporalUpdateID": "*",
                               "temporalRunID": "0b9e6c39-3c2e-4b0e-9d7c-31f6a0a9d1c2", "temporalActivityID": "3"}


def test_spans_without_temporal_attributes_are_untouched() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(RedactingSpanProcessor())
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with provider.get_tracer("test").start_as_current_span("GET /healthz", attributes={"http.route": "/healthz"}):
        pass
    assert exporter.get_finished_spans()[0].attributes == {"http.route": "/healthz"}


def test_raw_urls_from_any_http_instrumentation_are_dropped() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(RedactingSpanProcessor())
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with provider.get_tracer("test").start_as_current_span("GET", attributes={
            "url.path": "/api/v1/patients/pat-123", "url.query": "patient=pat-123", "http.route": "/x/{id}"}):
        pass
    assert exporter.get_finished_spans()[0].attributes == {"url.path": "*", "url.query": "*", "http.route": "/x/{id}"}


def test_fastapi_native_telemetry_is_turned_off_where_it_exists() -> None:
    import inspect

    from fastapi import FastAPI

    from api.telemetry import fastapi_options

    options = fastapi_options()
    assert ("telemetry" in options) == ("telemetry" in inspect.signature(FastAPI.__init__).parameters)
    if options:
        assert not options["telemetry"]["tracing"] and not options["telemetry"]["logs"]
