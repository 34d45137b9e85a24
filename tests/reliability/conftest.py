"""The reliability tier: faults injected into one running stack whose journey workers the tests own.

The stack is started as the e2e tier starts it (``hms up --detach`` in a temporary HMS_HOME on
free ports, see ``tests/e2e/conftest.py``) but with ``HMS_SERVICES`` leaving the worker out: the
tests run ``hms worker`` processes themselves, so they can kill them, stop them gracefully and
replace them with another build without the supervisor bringing the old one back. PostgreSQL and
Temporal stay under the supervisor, whose restart of them is part of what is tested.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.e2e.conftest import RunningStack, started_stack

#: Everything but the worker (and the console and MLLP listener, which no fault here involves).
SERVICES = "postgres,migrate,temporal,seed,api"
REPO = Path(__file__).resolve().parents[2]
WORKER_READY_TIMEOUT = 120.0
#: What ``hms worker`` logs once its pollers run (``deploy.services.run_worker``).
READY = "polling task queue"
FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    outcome = yield
    if outcome.get_result().failed:
        item.session.stash[FAILED] = True


class Workers:
    """``hms worker`` processes (or another build's worker module) run by the tests, one log each."""

    def __init__(self, stack: RunningStack, log_dir: Path) -> None:
        self.stack, self.log_dir = stack, log_dir
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, *argv: str) -> subprocess.Popen[bytes]:
        """Start one worker (``hms worker``, or the given interpreter arguments) and return once it polls."""
        log = self.log_dir / f"worker-{len(self.procs) + 1}.log"
        argv = (sys.executable, *(argv or ("-m", "deploy.cli", "worker")))
        with open(log, "ab") as out:
            proc = subprocess.Popen(argv, env=self.stack.env, cwd=REPO, stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append(proc)
        self._wait_polling(proc, log)
        return proc

    @staticmethod
    def _wait_polling(proc: subprocess.Popen[bytes], log: Path) -> None:
        """Until this worker logs that it polls: pollers on the queue may be other workers'."""
        deadline = time.monotonic() + WORKER_READY_TIMEOUT
        while READY not in log.read_text(errors="replace"):
            if proc.poll() is not None:
                raise AssertionError(f"worker exited with {proc.returncode}: {log.read_text(errors='replace')[-2000:]}")
            assert time.monotonic() < deadline, f"worker not polling after {WORKER_READY_TIMEOUT:g} s"
            time.sleep(0.2)

    def running(self) -> list[subprocess.Popen[bytes]]:
        return [p for p in self.procs if p.poll() is None]

    def ensure(self, count: int = 1) -> None:
        """At least ``count`` stock workers running (a test may have stopped or killed some)."""
        while len(self.running()) < count:
            self.start()

    def kill(self, procs: list[subprocess.Popen[bytes]], sig: int = signal.SIGKILL, timeout: float = 60) -> None:
        """Signal each process and wait for it to exit (a graceful stop finishes its in-flight tasks)."""
        for p in procs:
            if p.poll() is None:
                os.kill(p.pid, sig)
        for p in procs:
            try:
                p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.kill(p.pid, signal.SIGKILL)
                p.wait(timeout=30)

    def stop_all(self) -> None:
        self.kill(self.running(), signal.SIGTERM)


@pytest.fixture(scope="package")
def stack(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[RunningStack]:
    """The stack without its worker, for this folder's tests (see the module docstring)."""
    with started_stack(tmp_path_factory.mktemp("hms-reliability") / "home", request, FAILED,
                       {"HMS_SERVICES": SERVICES}) as running:
        yield running


@pytest.fixture(scope="package")
def workers(stack: RunningStack) -> Iterator[Workers]:
    """The worker processes; two stock workers are started, all are stopped at the end."""
    pool = Workers(stack, stack.settings.log_dir)
    try:
        pool.ensure(2)
        yield pool
    finally:
        pool.stop_all()


@pytest.fixture(scope="package")
def db(stack: RunningStack) -> Iterator[sa.Engine]:
    """The stack's own PostgreSQL (the URL the supervisor recorded); pre-ping survives its restarts."""
    engine = sa.create_engine(stack.settings.database_url_file.read_text().strip(), pool_pre_ping=True)
    yield engine
    engine.dispose()


def service(stack: RunningStack, name: str) -> dict:
    """The supervisor's row for one service in ``$HMS_HOME/run/state.json`` (pid, state, restarts)."""
    state = json.loads((stack.settings.run_dir / "state.json").read_text())
    return state["services"][name]
