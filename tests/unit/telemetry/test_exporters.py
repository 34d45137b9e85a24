"""Span export is chosen by settings: off by default, a JSON-lines file, console, or OTLP when installed."""
from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace.export import ConsoleSpanExporter

from deploy.settings import Settings
from deploy.telemetry.exporters import JsonLinesSpanExporter, build_exporter, otlp_exporter, read_spans
from deploy.telemetry.tracing import build_tracer_provider, temporal_interceptors, traces_mode


def test_tracing_is_off_by_default_and_adds_no_interceptor() -> None:
    settings = Settings()
    assert traces_mode(settings) == "none" and temporal_interceptors(settings) == []


def test_an_endpoint_alone_means_otlp_and_file_mode_adds_the_temporal_interceptor(tmp_path: Path) -> None:
    from temporalio.contrib.opentelemetry import TracingInterceptor

    assert traces_mode(Settings(otel_endpoint="http://collector:4318")) == "otlp"
    (interceptor,) = temporal_interceptors(Settings(home=tmp_path, otel_traces="file"))
    assert isinstance(interceptor, TracingInterceptor)


def test_the_file_exporter_writes_one_span_per_line_under_hms_home_logs(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, otel_traces="file")
    provider = build_tracer_provider(settings, "hms-api")
    with provider.get_tracer("t").start_as_current_span("GET /healthz", kind=trace.SpanKind.SERVER):
        pass
    provider.force_flush()
    spans = read_spans(tmp_path / "logs" / "traces.jsonl")
    assert [s["name"] for s in spans] == ["GET /healthz"]
    assert spans[0]["resource"]["attributes"]["service.name"] == "hms-api"
    provider.shutdown()


def test_exporter_choice(tmp_path: Path) -> None:
    assert build_exporter("none", file=Path("x"), endpoint=None) is None
    assert isinstance(build_exporter("console", file=Path("x"), endpoint=None), ConsoleSpanExporter)
    assert isinstance(build_exporter("file", file=tmp_path / "t.jsonl", endpoint=None),
                      JsonLinesSpanExporter)


@pytest.mark.skipif(importlib.util.find_spec("opentelemetry.exporter") is not None,
                    reason="an OTLP exporter package is installed here")
def test_otlp_without_its_package_says_so_and_exports_nothing(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, "hms.telemetry"):
        assert otlp_exporter("http://collector:4318") is None
        assert otlp_exporter(None) is None
    assert "no OTLP exporter is installed" in caplog.text and "needs HMS_OTEL_ENDPOINT" in caplog.text
