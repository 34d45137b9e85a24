"""The run directory: one supervisor per HMS_HOME, readable state, leftovers of a crashed run."""
from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from deploy import supervisor
from deploy.procs import ProcRef, free_port
from deploy.settings import Settings
from deploy.supervisor_files import home_mode
from deploy.supervisor_state import RunDir, ServiceState, reap_leftovers


def test_lock_makes_one_supervisor_per_home(tmp_path: Path) -> None:
    run, other = RunDir(tmp_path / "run"), RunDir(tmp_path / "run")
    assert run.running_pid() is None
    assert run.acquire()
    try:
        assert not other.acquire()
        assert other.running_pid() == __import__("os").getpid()
        assert stat.S_IMODE(run.pid_file.stat().st_mode) == 0o600
    finally:
        run.release()
    assert other.running_pid() is None
    assert not run.pid_file.exists()


def test_state_round_trips_in_stack_order(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "run")
    rows = [ServiceState("postgres", "postgres", "healthy", pid=10, restarts=0),
            ServiceState("temporal", "daemon", "restarting", pid=11, restarts=2),
            ServiceState("api", "daemon", "starting", pid=12)]
    run.save("running", rows)
    data = json.loads(run.state_file.read_text())
    assert data["supervisor"]["phase"] == "running"
    assert list(data["services"]) == ["postgres", "temporal", "api"]
    assert {"pid", "state", "since", "restarts"} <= set(data["services"]["temporal"])
    assert run.services() == rows
    assert stat.S_IMODE(run.state_file.stat().st_mode) == 0o600


def test_unreadable_state_is_no_state(tmp_path: Path) -> None:
    run = RunDir(tmp_path)
    run.state_file.write_text("{not json")
    assert run.load() is None
    assert run.services() == []


def test_reap_leftovers_stops_recorded_processes_only(tmp_path: Path) -> None:
    run = RunDir(tmp_path)
    ours = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        ref, other = ProcRef.of(ours.pid), ProcRef.of(stranger.pid)
        assert ref and other
        run.save("running", [
            ServiceState("temporal", "daemon", "healthy", pid=ref.pid, create_time=ref.create_time),
            # same pid number but another start time: a recycled pid must not be touched
            ServiceState("worker", "daemon", "healthy", pid=other.pid, create_time=other.create_time - 50),
        ])
        said: list[str] = []
        assert reap_leftovers(run, said.append) == 1
        ours.wait(timeout=10)
        assert stranger.poll() is None
        assert said == [f"temporal: stopping leftover process {ref.pid} from a previous run"]
    finally:
        for proc in (ours, stranger):
            proc.kill()
            proc.wait()


def _quiet_settings(home: Path) -> Settings:
    return Settings(home=home, temporal_port=free_port(), temporal_ui_port=free_port(), api_port=free_port())


def test_up_refuses_a_second_stack_for_the_same_home(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = _quiet_settings(tmp_path / "home")
    run = RunDir(settings.run_dir)
    assert run.acquire()
    try:
        assert supervisor.up(settings) == 1
    finally:
        run.release()
    assert "already running" in capsys.readouterr().err


def test_up_refuses_a_busy_port_before_starting_anything(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    monkeypatch.setenv("HMS_SERVICES", "temporal")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        settings = Settings(home=tmp_path / "home", temporal_port=port, temporal_ui_port=free_port())
        assert supervisor.up(settings) != 0
    assert f"port {port} (HMS_TEMPORAL_PORT) is in use" in capsys.readouterr().err
    assert not (settings.run_dir / "state.json").exists()
    assert stat.S_IMODE(settings.home_dir.stat().st_mode) == home_mode()  # private, traversable by pgserver's user as root


def test_down_and_status_without_a_stack(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = _quiet_settings(tmp_path / "home")
    assert supervisor.down(settings) == 0
    assert supervisor.status(settings) == supervisor.EXIT_NOT_RUNNING
    assert "no stack is running" in capsys.readouterr().out
