"""The worker's Prometheus endpoint (``HMS_WORKER_METRICS_PORT``): Temporal SDK metrics and the process's own.

The Temporal SDK core exports its metrics (workflow and activity task counts and latencies per
workflow and activity type, poller and slot gauges, sticky cache) through its own Prometheus
server. That server is bound to a private loopback port and re-served, with the process's
prometheus-client registry (ledger appends made by audit activities, process CPU and memory), on one
port, so a scraper has one target per worker. Off (0) by default: every worker process needs its own
port, which only the operator of the deployment can assign.
"""
from __future__ import annotations

import logging
import socket
import urllib.request
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import REGISTRY, CollectorRegistry, start_http_server
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

if TYPE_CHECKING:
    from deploy.settings import Settings

log = logging.getLogger("hms.telemetry")


class CoreMetrics(Collector):
    """Re-serves the SDK core's Prometheus text as collected metric families (empty while unreachable)."""

    def __init__(self, url: str, timeout: float = 2.0) -> None:
        self.url, self.timeout = url, timeout

    def collect(self) -> Iterator[Metric]:
        try:
            with urllib.request.urlopen(self.url, timeout=self.timeout) as answer:  # noqa: S310 - loopback URL
                text = answer.read().decode("utf-8")
        except OSError:
            return
        yield from text_string_to_metric_families(text)


def free_loopback_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def temporal_runtime(core_port: int) -> Runtime:
    """A runtime whose SDK metrics are served on ``127.0.0.1:core_port`` (counters end in ``_total``, seconds)."""
    return Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(
        bind_address=f"127.0.0.1:{core_port}", counters_total_suffix=True, durations_as_seconds=True)))


def start_worker_metrics(settings: Settings, registry: CollectorRegistry = REGISTRY) -> int | None:
    """Make the SDK runtime report metrics and serve them with ``registry`` on ``HMS_WORKER_METRICS_PORT``.

    Call before the worker's client connects (the runtime becomes the process default).
    Returns the bound port, or None when the setting is 0.
    """
    port = settings.worker_metrics_port
    if port <= 0:
        return None
    core_port = free_loopback_port()
    Runtime.set_default(temporal_runtime(core_port), error_if_already_set=False)
    registry.register(CoreMetrics(f"http://127.0.0.1:{core_port}/metrics"))
    start_http_server(port, addr=settings.host, registry=registry)
    log.info("worker metrics on http://%s:%s/metrics", settings.host, port)
    return port
