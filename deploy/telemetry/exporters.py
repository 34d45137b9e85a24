"""Span exporters chosen by settings: none, console, a JSON-lines file, or OTLP when its package is installed.

The project ships no OTLP exporter dependency: a collector is a deployment choice. Installing
``opentelemetry-exporter-otlp-proto-http`` (or ``-grpc``) next to the project and setting
``HMS_OTEL_ENDPOINT`` turns OTLP export on; without the package a warning says so and no spans leave.
"""
from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SpanExporter, SpanExportResult

log = logging.getLogger("hms.telemetry")


class JsonLinesSpanExporter(SpanExporter):
    """Appends one JSON object per finished span to a file (``$HMS_HOME/logs/traces.jsonl``)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        data = "".join(span.to_json(indent=None) + "\n" for span in spans).encode("utf-8")
        try:
            # One O_APPEND write per batch: the API and the workers of one HMS_HOME share the file.
            with self._lock:
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                try:
                    view = memoryview(data)
                    while view:
                        view = view[os.write(fd, view):]
                finally:
                    os.close(fd)
        except OSError:
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None


def read_spans(path: Path) -> list[dict]:
    """The spans a :class:`JsonLinesSpanExporter` wrote (for tests and ad-hoc inspection)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def otlp_exporter(endpoint: str | None) -> SpanExporter | None:
    """The OTLP exporter of whichever OTLP package is installed, else None (with a log line saying why)."""
    if not endpoint:
        log.warning("tracing: HMS_OTEL_TRACES=otlp needs HMS_OTEL_ENDPOINT; spans are not exported")
        return None
    for module in ("opentelemetry.exporter.otlp.proto.http.trace_exporter",
                   "opentelemetry.exporter.otlp.proto.grpc.trace_exporter"):
        try:
            exporter_module = __import__(module, fromlist=["OTLPSpanExporter"])
        except ImportError:
            continue
        return exporter_module.OTLPSpanExporter(endpoint=endpoint)
    log.warning("tracing: HMS_OTEL_ENDPOINT is set but no OTLP exporter is installed "
                "(pip install opentelemetry-exporter-otlp-proto-http); spans are not exported")
    return None


def build_exporter(mode: str, *, file: Path, endpoint: str | None) -> SpanExporter | None:
    """The exporter for ``HMS_OTEL_TRACES`` (``none`` | ``console`` | ``file`` | ``otlp``)."""
    if mode == "console":
        return ConsoleSpanExporter(formatter=lambda span: span.to_json(indent=None) + "\n")
    if mode == "file":
        return JsonLinesSpanExporter(file)
    if mode == "otlp":
        return otlp_exporter(endpoint)
    return None
