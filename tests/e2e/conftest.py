"""The end-to-end tier: one whole stack per session, started the way a fresh machine starts it.

``hms up --detach`` runs in a temporary HMS_HOME on free ports with the embedded PostgreSQL
(``HMS_DATABASE_URL``/``HMS_TEST_DATABASE_URL`` are deliberately not used) and the embedded
Temporal dev server; tests talk to it over HTTPS with the stack's own CA. When a test failed,
teardown prints the tail of every service log before ``hms down``.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from deploy.settings import Settings

UP_TIMEOUT = 600
PORT_VARS = ("HMS_API_PORT", "HMS_MLLP_PORT", "HMS_CONSOLE_PORT", "HMS_TEMPORAL_PORT", "HMS_TEMPORAL_UI_PORT")
#: Not passed to the stack: e2e always runs the embedded engines in its own HMS_HOME.
NOT_PASSED = ("HMS_HOME", "HMS_DATABASE_URL", "HMS_TEMPORAL_ADDRESS", "HMS_SERVICES", *PORT_VARS)
FAILED = pytest.StashKey[bool]()


@dataclass
class RunningStack:
    """A running stack: its settings, its environment, where the API is and which CA to trust."""

    settings: Settings
    env: dict[str, str]
    api_url: str
    ca_cert: Path
    _tokens: dict[tuple[str | None, str | None], tuple[float, str]] = field(default_factory=dict, repr=False)

    def hms(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        """Run ``hms ARGS`` against this stack (captured text output, never raises on exit code)."""
        return subprocess.run([sys.executable, "-m", "deploy.cli", *args], env=self.env, text=True,
                              capture_output=True, timeout=timeout)

    def token(self, user: str | None = None, role: str | None = None) -> str:
        """A bearer token from the embedded issuer, reused while it has most of its lifetime left."""
        if (user is None) == (role is None):
            raise ValueError("give exactly one of user= or role=")
        cached = self._tokens.get((user, role))
        if cached and time.monotonic() - cached[0] < self.settings.token_ttl_seconds / 3:
            return cached[1]
        result = self.hms("token", *(("--user", user) if user else ("--role", str(role))))
        assert result.returncode == 0, f"hms token failed: {result.stderr}"
        jwt = result.stdout.strip()
        self._tokens[(user, role)] = (time.monotonic(), jwt)
        return jwt


def _free_ports(count: int) -> list[int]:
    """Distinct free loopback ports (all held open together, so none is handed out twice)."""
    with ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in socks]


@contextmanager
def _environ(env: dict[str, str]) -> Iterator[None]:
    """Build Settings from exactly the stack's environment, as its services will."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    if outcome.get_result().failed:
        item.session.stash[FAILED] = True


def _print_logs(config: pytest.Config, stack: RunningStack, up_output: str = "") -> None:
    reporter = config.pluginmanager.get_plugin("terminalreporter")

    def write(line: str) -> None:
        if reporter is not None:
            reporter.write_line(line)
        else:
            print(line, file=sys.__stderr__)

    if up_output:
        write("----- hms up --detach -----")
        for line in up_output.splitlines():
            write(line)
    for log in sorted(stack.settings.log_dir.glob("*.log")):
        write(f"----- last lines of {log.name} -----")
        for line in log.read_text(errors="replace").splitlines()[-40:]:
            write(line)


@contextmanager
def started_stack(home: Path, request: pytest.FixtureRequest, failed: pytest.StashKey[bool],
                  extra_env: dict[str, str] | None = None) -> Iterator[RunningStack]:
    """``hms up --detach`` in ``home`` on free ports, ``hms down`` afterwards; service logs when ``failed``."""
    env = {k: v for k, v in os.environ.items() if k not in NOT_PASSED}
    env.update(HMS_HOME=str(home), **(extra_env or {}))
    env.update(zip(PORT_VARS, map(str, _free_ports(len(PORT_VARS))), strict=True))
    with _environ(env):
        settings = Settings()
    running = RunningStack(settings, env, settings.api_base_url, settings.ca_cert)
    up = running.hms("up", "--detach", timeout=UP_TIMEOUT)
    try:
        if up.returncode != 0:
            _print_logs(request.config, running, up.stdout + up.stderr)
            pytest.fail(f"`hms up --detach` exited with {up.returncode}: the stack did not become healthy")
        yield running
        if request.session.stash.get(failed, False):
            _print_logs(request.config, running)
    finally:
        down = running.hms("down", timeout=300)
        if down.returncode != 0:
            print(down.stdout + down.stderr, file=sys.__stderr__)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[RunningStack]:
    """The whole stack (PostgreSQL, Temporal, migrations, seed, worker, API …) for this session."""
    with started_stack(tmp_path_factory.mktemp("hms-e2e") / "home", request, FAILED) as running:
        yield running


@pytest.fixture
def token(stack: RunningStack) -> Callable[..., str]:
    """``token(user=...)`` or ``token(role=...)``: a bearer JWT from ``hms token``."""
    return stack.token
