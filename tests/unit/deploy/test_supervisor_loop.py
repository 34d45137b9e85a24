"""The supervisor loop with small stand-in services: order, health, restart after a crash,
one-shot failures, crash loops, and a stop that leaves no process behind."""
from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from deploy import health
from deploy.procs import Backoff, ProcRef, free_port
from deploy.settings import Settings
from deploy.supervisor_run import Supervisor
from deploy.supervisor_runners import ProcessRunner
from deploy.supervisor_services import ServiceSpec, selected_names
from deploy.supervisor_state import RunDir

LISTENER = ("import socket, sys, time\n"
            "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
            "s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen(); time.sleep(3600)\n")


def daemon(name: str, port: int) -> ServiceSpec:
    argv = [sys.executable, "-c", LISTENER, str(port)]
    return ServiceSpec(name, "daemon", lambda log, env: ProcessRunner(argv, log, env, lambda _: health.tcp("127.0.0.1", port)),
                       url=f"tcp://127.0.0.1:{port}", startup_timeout=60)


def oneshot(name: str, code: str) -> ServiceSpec:
    argv = [sys.executable, "-c", code]
    return ServiceSpec(name, "oneshot", lambda log, env: ProcessRunner(argv, log, env, None), startup_timeout=60)


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)


class Running:
    def __init__(self, sup: Supervisor, run: RunDir) -> None:
        self.sup, self.run, self.lines = sup, run, []
        self.code: int | None = None
        self.thread = threading.Thread(target=self._main, daemon=True)

    def _main(self) -> None:
        self.code = self.sup.run(install_signals=False)

    def state(self, name: str) -> dict:
        data = self.run.load() or {"services": {}}
        return data["services"].get(name, {})

    def phase(self) -> str:
        return (self.run.load() or {}).get("supervisor", {}).get("phase", "")


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[[list[ServiceSpec]], Running]]:
    started: list[Running] = []

    def _start(specs: list[ServiceSpec]) -> Running:
        run = RunDir(tmp_path / "run")
        lines: list[str] = []
        sup = Supervisor(specs, run, tmp_path / "logs", dict(os.environ), say=lines.append,
                         backoff=lambda: Backoff(initial=0.05, maximum=0.2), poll_interval=0.05)
        running = Running(sup, run)
        running.lines = lines
        running.thread.start()
        started.append(running)
        return running

    yield _start
    for running in started:
        running.sup.request_stop()
        running.thread.join(timeout=60)


def test_services_start_in_order_and_a_killed_child_is_restarted(start, tmp_path: Path) -> None:
    marker = tmp_path / "migrated"
    stack = start([oneshot("migrate", f"open({str(marker)!r}, 'w').write('ok')"), daemon("worker", free_port())])
    wait_for(lambda: stack.phase() == "running", "the stack to be healthy")
    assert marker.read_text() == "ok"
    assert stack.state("migrate")["state"] == "done"
    first = stack.state("worker")
    assert first["state"] == "healthy" and first["restarts"] == 0
    assert stack.lines[:4] == ["migrate: starting…", "migrate: done", "worker: starting…",
                               f"worker: healthy (accepting on 127.0.0.1:{first['url'].rsplit(':', 1)[1]})"]

    os.kill(first["pid"], signal.SIGKILL)
    wait_for(lambda: stack.state("worker").get("restarts") == 1 and stack.state("worker")["state"] == "healthy",
             "the worker to come back")
    assert stack.state("worker")["pid"] != first["pid"]
    assert any(line.startswith("worker exited with -9; restarting in") for line in stack.lines)

    stack.sup.request_stop()
    stack.thread.join(timeout=60)
    assert stack.code == 0
    assert stack.phase() == "stopped"
    last = stack.state("worker")
    assert last["state"] == "stopped"
    assert not ProcRef(last["pid"], last["create_time"]).alive()


def test_a_failing_oneshot_fails_the_start_and_later_services_never_start(start) -> None:
    stack = start([oneshot("migrate", "import sys; print('boom'); sys.exit(3)"), daemon("api", free_port())])
    stack.thread.join(timeout=60)
    assert stack.code == 1
    assert stack.phase() == "failed"
    assert stack.state("migrate")["state"] == "failed"
    assert stack.state("migrate")["error"] == "migrate exited with 3"
    assert stack.state("api")["state"] == "pending"
    assert "  boom" in stack.lines


def test_a_crash_looping_service_fails_the_start(start) -> None:
    argv, port = [sys.executable, "-c", "import sys; sys.exit(1)"], free_port()
    spec = ServiceSpec("worker", "daemon", lambda log, env: ProcessRunner(
        argv, log, env, lambda _: health.tcp("127.0.0.1", port)), startup_timeout=60)
    stack = start([spec])
    stack.thread.join(timeout=60)
    assert stack.code == 1
    assert stack.state("worker")["state"] == "failed"
    assert stack.state("worker")["restarts"] == 2
    assert "exited with 1 3 times before becoming healthy" in stack.state("worker")["error"]


def test_services_selection(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HMS_SERVICES", "temporal, postgres")
    assert selected_names(Settings(home=tmp_path)) == ["postgres", "temporal"]
    assert selected_names(Settings(home=tmp_path, database_url="postgresql://db/hms")) == ["temporal"]
    monkeypatch.setenv("HMS_SERVICES", "postgres,ftp")
    with pytest.raises(ValueError, match="ftp"):
        selected_names(Settings(home=tmp_path))
    monkeypatch.delenv("HMS_SERVICES")
    default = selected_names(Settings(home=tmp_path))
    assert default[:4] == ["postgres", "migrate", "temporal", "seed"]
    assert default.index("worker") < default.index("api")
