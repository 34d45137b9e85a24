"""``HMS_WORKER_METRICS_PORT``: a worker serves Temporal SDK metrics and its own on one Prometheus endpoint."""
from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import urllib.request
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from deploy.settings import Settings
from deploy.telemetry.worker_metrics import free_loopback_port, start_worker_metrics

pytestmark = pytest.mark.integration

# A worker process as ``hms worker`` starts it: metrics first (they set the SDK runtime), then the client.
PROBE = textwrap.dedent("""
    import asyncio, os, sys, urllib.request
    from temporalio.client import Client
    from temporalio.worker import Worker
    from deploy.settings import Settings
    from deploy.telemetry.metered import LEDGER_EVENTS
    from deploy.telemetry.worker_metrics import start_worker_metrics
    from workflows.registry import WORKFLOWS

    async def main(target: str, port: int, queue: str, home: str) -> None:
        assert start_worker_metrics(Settings(home=home, worker_metrics_port=port)) == port
        client = await Client.connect(target)
        LEDGER_EVENTS.labels("append").inc(0)
        async with Worker(client, task_queue=queue, workflows=WORKFLOWS):
            for _ in range(600):  # up to a minute for the pollers to report on a loaded machine
                text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
                if "temporal_num_pollers" in text:
                    break
                await asyncio.sleep(0.1)
        print(text, flush=True)

    asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]))
    # Skip interpreter finalization: the SDK runtime's threads can abort it (PyGILState_Release),
    # which has nothing to do with what this probe checks.
    os._exit(0)
""")


async def test_one_endpoint_serves_sdk_and_process_metrics(temporal_env: WorkflowEnvironment, task_queue: str,
                                                           tmp_path: Path) -> None:
    port = free_loopback_port()
    target = temporal_env.client.service_client.config.target_host
    done = await asyncio.to_thread(subprocess.run, [sys.executable, "-c", PROBE, target, str(port), task_queue,
                                                    str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    text = done.stdout
    assert "temporal_num_pollers" in text and 'task_queue="' + task_queue in text  # the SDK core's
    assert "hms_ledger_appended_events_total" in text and "process_cpu_seconds_total" in text  # the process's
    with pytest.raises(OSError):  # the worker has exited: nothing listens there any more
        urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2)


def test_off_by_default() -> None:
    assert Settings().worker_metrics_port == 0
    assert start_worker_metrics(Settings()) is None
