"""Health probes of the stack's services: each returns a short detail or raises why not.

A process being alive is not readiness: PostgreSQL must answer a query, Temporal must
answer a gRPC call and serve its UI, a worker must be polling its task queue, and the API
must answer ``/healthz`` over TLS with a certificate that chains to the local CA.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import socket
from pathlib import Path

import httpx

PROBE_TIMEOUT = 5.0


class NotHealthy(Exception):
    """A probe's answer was not (yet) the healthy one."""


def postgres(uri: str) -> str:
    """``SELECT 1`` through libpq (a ``postgresql://`` URI, unix socket or TCP)."""
    import psycopg

    with psycopg.connect(uri, connect_timeout=int(PROBE_TIMEOUT)) as conn:
        value = conn.execute("SELECT 1").fetchone()
    if not value or value[0] != 1:
        raise NotHealthy("SELECT 1 returned no row")
    return "SELECT 1 ok"


def temporal(target: str, namespace: str, ui_url: str | None) -> str:
    """The frontend answers ``GetSystemInfo``, then the UI (when served) answers HTTP."""
    version = asyncio.run(asyncio.wait_for(_system_info(target, namespace), PROBE_TIMEOUT))
    if ui_url:
        response = httpx.get(ui_url, timeout=PROBE_TIMEOUT)
        if response.status_code >= 500:
            raise NotHealthy(f"UI answered {response.status_code}")
        return f"server {version} at {target}, UI {ui_url}"
    return f"server {version} at {target}"


async def _system_info(target: str, namespace: str) -> str:
    from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
    from temporalio.client import Client

    client = await Client.connect(target, namespace=namespace)
    info = await client.workflow_service.get_system_info(GetSystemInfoRequest())
    return info.server_version or "?"


def worker(target: str, namespace: str, task_queue: str, since: float) -> str:
    """A poller has been seen on the workflow task queue since the worker (re)started at ``since``."""
    count = asyncio.run(asyncio.wait_for(_fresh_pollers(target, namespace, task_queue, since), PROBE_TIMEOUT))
    if count == 0:
        raise NotHealthy(f"no poller on task queue {task_queue}")
    return f"{count} poller(s) on task queue {task_queue}"


async def _fresh_pollers(target: str, namespace: str, task_queue: str, since: float) -> int:
    from temporalio.api.enums.v1 import TaskQueueKind, TaskQueueType
    from temporalio.api.taskqueue.v1 import TaskQueue
    from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
    from temporalio.client import Client

    client = await Client.connect(target, namespace=namespace)
    response = await client.workflow_service.describe_task_queue(DescribeTaskQueueRequest(
        namespace=namespace,
        task_queue=TaskQueue(name=task_queue, kind=TaskQueueKind.TASK_QUEUE_KIND_NORMAL),
        task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
    ))
    # A killed worker's poller stays listed for a while: count only pollers seen after the (re)start.
    floor = dt.datetime.fromtimestamp(since - 1, dt.UTC)
    return sum(1 for p in response.pollers if p.last_access_time.ToDatetime(dt.UTC) >= floor)


def https_healthz(base_url: str, ca_cert: Path) -> str:
    """``GET {base_url}/healthz`` verified against the local CA, TLS 1.3 only, must be 200."""
    from deploy.tls import client_ssl_context

    response = httpx.get(f"{base_url}/healthz", verify=client_ssl_context(ca_cert), timeout=PROBE_TIMEOUT)
    if response.status_code != 200:
        raise NotHealthy(f"/healthz answered {response.status_code}")
    return f"{base_url}/healthz 200"


def tcp(host: str, port: int) -> str:
    """Something accepts connections on ``host:port`` (MLLP, or a service without a health route)."""
    with socket.create_connection((host, port), timeout=PROBE_TIMEOUT):
        pass
    return f"accepting on {host}:{port}"
