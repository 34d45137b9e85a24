"""Service logs: text for humans by default, one JSON object per line with ``HMS_LOG_FORMAT=json``.

A JSON line carries ``ts``, ``level``, ``logger``, ``service``, ``message`` and, inside a span,
``trace_id``/``span_id`` (W3C hex) so a log line leads to its trace. Only the formatted message is
written, never ``extra`` fields: the project's log calls carry ids and counts, never patient data
(``tests/integration/telemetry`` drives an admission and checks the lines for the patient's name,
identifier and birth date).
"""
from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from opentelemetry import trace

if TYPE_CHECKING:
    from deploy.settings import Settings

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


class JsonFormatter(logging.Formatter):
    """One JSON object per record; the current span's ids when there is one."""

    def __init__(self, service: str | None = None) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if self.service:
            line["service"] = self.service
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            line["trace_id"] = format(context.trace_id, "032x")
            line["span_id"] = format(context.span_id, "016x")
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def log_handler(log_format: str, service: str | None = None) -> logging.Handler:
    """A stderr handler with the format ``HMS_LOG_FORMAT`` asks for."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service) if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    return handler


def configure_logging(settings: Settings, service: str, level: int = logging.INFO) -> None:
    """Replace the root logger's handlers with one in the configured format (as ``basicConfig(force=True)``)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    root.addHandler(log_handler(settings.log_format, service))
    root.setLevel(level)
