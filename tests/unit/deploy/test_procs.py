"""Process helpers: port-in-use detection, restart backoff, stopping stubborn children."""
from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from deploy import supervisor
from deploy.procs import Backoff, ProcRef, free_port, port_in_use, spawn, stop_process
from deploy.settings import Settings
from deploy.supervisor_services import build_services


def test_port_in_use_sees_a_listener() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        assert port_in_use("127.0.0.1", port)
    assert not port_in_use("127.0.0.1", free_port())


def test_busy_ports_names_the_port_and_its_variable(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        settings = Settings(home=tmp_path, api_port=port, temporal_port=free_port(), temporal_ui_port=free_port())
        problems = supervisor.busy_ports(settings, build_services(settings, ["temporal", "api"]))
    assert problems == [f"port {port} (HMS_API_PORT) is in use by another process; set HMS_API_PORT to a free port"]


def test_backoff_doubles_up_to_the_cap() -> None:
    backoff = Backoff(initial=1, maximum=30, reset_after=60)
    assert [backoff.next_delay(uptime=0.5) for _ in range(8)] == [1, 2, 4, 8, 16, 30, 30, 30]


def test_backoff_resets_after_a_stable_run() -> None:
    backoff = Backoff(initial=1, maximum=30, reset_after=60)
    assert [backoff.next_delay(uptime=1) for _ in range(4)] == [1, 2, 4, 8]
    assert backoff.next_delay(uptime=61) == 1
    assert backoff.next_delay(uptime=1) == 2


def test_procref_tells_a_recycled_pid_from_ours() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        ref = ProcRef.of(proc.pid)
        assert ref is not None and ref.alive()
        assert not ProcRef(proc.pid, ref.create_time - 100).alive()
    finally:
        proc.kill()
        proc.wait()
    assert not ref.alive()


def test_stop_process_escalates_to_sigkill(tmp_path: Path) -> None:
    code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(600)"
    log = tmp_path / "stubborn.log"
    proc = spawn([sys.executable, "-c", code], log, {"PATH": "/usr/bin:/bin"})
    deadline = time.monotonic() + 30
    while "ready" not in (log.read_text() if log.exists() else ""):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    ref = ProcRef.of(proc.pid)
    assert ref is not None
    stop_process(ref, grace=0.5, popen=proc)
    assert proc.returncode == -9
    assert not ref.alive()


@pytest.mark.parametrize("name", ["worker", "temporal"])
def test_spawned_children_get_their_own_session(tmp_path: Path, name: str) -> None:
    proc = spawn([sys.executable, "-c", "import time; time.sleep(60)"], tmp_path / f"{name}.log", {})
    try:
        import os

        assert os.getsid(proc.pid) == proc.pid != os.getsid(0)
    finally:
        proc.kill()
        proc.wait()
