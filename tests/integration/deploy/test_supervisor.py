"""``hms up --detach`` / ``status`` / ``down`` against real PostgreSQL (pgserver) and a real
Temporal dev server, in a temporary HMS_HOME on free ports. The tests run in file order and
share one HMS_HOME: the later ones check what the earlier runs left behind."""
from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
import sqlalchemy as sa
from temporalio import workflow

from deploy.procs import free_port

pytestmark = pytest.mark.integration
MARKER_WORKFLOW = "supervisor-reuse-check"


@dataclass
class Stack:
    home: Path
    env: dict[str, str]
    temporal_port: int

    def hms(self, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "deploy.cli", *args], env=self.env, text=True,
                              capture_output=True, timeout=timeout)

    def state(self) -> dict:
        return json.loads((self.home / "run" / "state.json").read_text())

    def our_processes(self) -> list[psutil.Process]:
        """Live processes started for this HMS_HOME (the path is on every command line we start)."""
        found = []
        for proc in psutil.process_iter(["cmdline", "environ", "status"]):
            try:
                if proc.info["status"] == psutil.STATUS_ZOMBIE or proc.pid == os.getpid():
                    continue
                text = " ".join(proc.info["cmdline"] or []) + " " + (proc.info["environ"] or {}).get("HMS_HOME", "")
            except psutil.Error:
                continue
            if str(self.home) in text:
                found.append(proc)
        return found


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("hms-supervisor") / "home"
    temporal_port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HMS_")}
    env.update(HMS_HOME=str(home), HMS_SERVICES="postgres,temporal", HMS_TEMPORAL_PORT=str(temporal_port),
               HMS_TEMPORAL_UI_PORT=str(free_port()), HMS_API_PORT=str(free_port()),
               HMS_MLLP_PORT=str(free_port()), HMS_CONSOLE_PORT=str(free_port()))
    s = Stack(home, env, temporal_port)
    yield s
    s.hms("down")


def _database_url(stack: Stack) -> str:
    return (stack.home / "run" / "database_url").read_text().strip()


async def _workflow_status(target: str, start: bool) -> str:
    from temporalio.client import Client

    client = await Client.connect(target)
    if start:
        await client.start_workflow("NoSuchWorkflow", id=MARKER_WORKFLOW, task_queue="nobody-polls-this")
    desc = await client.get_workflow_handle(MARKER_WORKFLOW).describe()
    return desc.status.name if desc.status else "?"


def test_up_detach_returns_once_healthy(stack: Stack) -> None:
    result = stack.hms("up", "--detach")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "postgres: healthy" in result.stdout and "temporal: healthy" in result.stdout
    status = stack.hms("status")
    assert status.returncode == 0, status.stdout
    assert [line.split()[:2] for line in status.stdout.splitlines()[2:]] == [["postgres", "healthy"],
                                                                              ["temporal", "healthy"]]
    assert (stack.home.stat().st_mode & 0o077) in (0, 0o011)  # 0700, or 0711 as root for pgserver's user
    assert (stack.home / "tls" / "ca.pem").exists()
    engine = sa.create_engine(_database_url(stack))
    with engine.begin() as conn:
        assert conn.execute(sa.text("SELECT 1")).scalar() == 1
        conn.execute(sa.text("CREATE TABLE supervisor_reuse_check (id int)"))
    engine.dispose()
    assert asyncio.run(_workflow_status(f"127.0.0.1:{stack.temporal_port}", start=True)) == "RUNNING"


@workflow.defn(name="SupervisorProbeCheck", sandboxed=False)
class ProbeCheck:
    """A workflow for a worker to poll for; never started."""

    @workflow.run
    async def run(self) -> None:
        return None


async def _probe_with_and_without_worker(target: str) -> tuple[str, str]:
    from temporalio.client import Client
    from temporalio.worker import UnsandboxedWorkflowRunner, Worker

    from deploy import health

    queue, since = f"probe-{time.time_ns()}", time.time()
    try:
        await asyncio.to_thread(health.worker, target, "default", queue, since)
        without = "healthy"
    except health.NotHealthy as exc:
        without = str(exc)
    client = await Client.connect(target)
    async with Worker(client, task_queue=queue, workflows=[ProbeCheck], workflow_runner=UnsandboxedWorkflowRunner()):
        deadline = time.monotonic() + 60
        while True:
            try:
                return without, await asyncio.to_thread(health.worker, target, "default", queue, since)
            except health.NotHealthy:
                assert time.monotonic() < deadline, "the worker never showed up as a poller"
                await asyncio.sleep(0.2)


def test_worker_probe_needs_a_polling_worker(stack: Stack) -> None:
    without, with_worker = asyncio.run(_probe_with_and_without_worker(f"127.0.0.1:{stack.temporal_port}"))
    assert without.startswith("no poller on task queue probe-")
    assert with_worker.startswith("1 poller(s) on task queue probe-")


def test_a_second_up_is_refused_while_running(stack: Stack) -> None:
    result = stack.hms("up", "--detach")
    assert result.returncode != 0
    assert "already running" in result.stderr


def test_a_killed_child_is_restarted(stack: Stack) -> None:
    before = stack.state()["services"]["temporal"]
    os.kill(before["pid"], signal.SIGKILL)
    deadline = time.monotonic() + 120
    while True:
        now = stack.state()["services"]["temporal"]
        if now["restarts"] == 1 and now["state"] == "healthy":
            break
        assert time.monotonic() < deadline, now
        time.sleep(0.2)
    assert now["pid"] != before["pid"]
    assert stack.hms("status").returncode == 0
    assert "temporal exited with -9; restarting in 1 s" in (stack.home / "logs" / "supervisor.log").read_text()


def test_down_stops_every_process(stack: Stack) -> None:
    state = stack.state()
    pids = [state["supervisor"]["pid"]] + [s["pid"] for s in state["services"].values()]
    assert stack.our_processes()
    result = stack.hms("down")
    assert result.returncode == 0, result.stderr
    assert "stack stopped" in result.stdout
    for pid in pids:
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert stack.our_processes() == []
    assert stack.hms("status").returncode == 3
    again = stack.hms("down")
    assert again.returncode == 0 and "no stack is running" in again.stdout


def test_a_busy_port_is_refused_and_named(stack: Stack) -> None:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # our own earlier connections may linger
        sock.bind(("127.0.0.1", stack.temporal_port))
        sock.listen()
        result = stack.hms("up", "--detach")
    assert result.returncode != 0
    assert f"port {stack.temporal_port} (HMS_TEMPORAL_PORT) is in use by another process" in result.stderr
    assert stack.hms("status").returncode == 3
    assert stack.our_processes() == []


def test_up_after_down_reuses_the_state(stack: Stack) -> None:
    ca_before = (stack.home / "tls" / "ca.pem").read_bytes()
    result = stack.hms("up", "--detach")
    assert result.returncode == 0, result.stdout + result.stderr
    assert (stack.home / "tls" / "ca.pem").read_bytes() == ca_before
    engine = sa.create_engine(_database_url(stack))
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM supervisor_reuse_check")).scalar() == 0
    engine.dispose()
    assert asyncio.run(_workflow_status(f"127.0.0.1:{stack.temporal_port}", start=False)) == "RUNNING"
    assert stack.hms("down").returncode == 0
    assert stack.our_processes() == []
