"""Observability of the services: traces (OpenTelemetry), metrics (Prometheus) and structured logs.

``setup(settings, service)`` is what ``hms api``, ``hms worker`` and ``hms mllp`` call first.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from deploy.telemetry.logs import configure_logging
from deploy.telemetry.tracing import configure_tracing, temporal_interceptors

if TYPE_CHECKING:
    from deploy.settings import Settings

__all__ = ["configure_logging", "configure_tracing", "setup", "temporal_interceptors"]


def setup(settings: Settings, service: str) -> None:
    """Logs in ``HMS_LOG_FORMAT`` and, when ``HMS_OTEL_TRACES``/``HMS_OTEL_ENDPOINT`` ask, tracing."""
    configure_logging(settings, service)
    configure_tracing(settings, service)
