"""How the supervisor starts, watches and stops one service: a child process or PostgreSQL."""
from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from deploy import health
from deploy.procs import ProcRef, spawn, stop_process
from deploy.supervisor_files import ensure_home_dir, read_json, write_private

#: A probe gets the wall-clock time the service (re)started and returns a detail, or raises.
Probe = Callable[[float], str]


class ProcessRunner:
    """A child process (long-running or one-shot) with its output appended to its log."""

    def __init__(self, argv: Sequence[str], log_path: Path, env: Mapping[str, str], probe: Probe | None,
                 grace: float = 10.0) -> None:
        self.argv, self.log_path, self.env, self._probe, self.grace = list(argv), log_path, env, probe, grace
        self.popen: subprocess.Popen[bytes] | None = None
        self.ref: ProcRef | None = None
        self.since = 0.0

    def start(self) -> None:
        self.since = time.time()
        self.popen = spawn(self.argv, self.log_path, self.env)
        self.ref = ProcRef.of(self.popen.pid) or ProcRef(self.popen.pid, 0.0)

    def exit_code(self) -> int | None:
        """None while running, else the exit code (negative: killed by that signal)."""
        return None if self.popen is None else self.popen.poll()

    def probe(self) -> str:
        return self._probe(self.since) if self._probe else "running"

    def stop(self) -> None:
        if self.popen is not None and self.ref is not None and self.popen.poll() is None:
            stop_process(self.ref, self.grace, signal.SIGTERM, popen=self.popen)


class PostgresRunner:
    """The embedded PostgreSQL: started through pgserver, watched and stopped via its postmaster.

    As root, pgserver runs the server as the ``pgserver`` user and ``pg_ctl`` refuses to run
    as root, so stopping means signalling the postmaster (SIGINT = fast shutdown).
    """

    def __init__(self, pg_dir: Path, run_dir: Path, home_dir: Path, url_file: Path, log_path: Path,
                 env: Mapping[str, str], to_sqlalchemy: Callable[[str], str]) -> None:
        self.pg_dir, self.run_dir, self.home_dir, self.url_file = pg_dir, run_dir, home_dir, url_file
        self.log_path, self.env, self.to_sqlalchemy = log_path, env, to_sqlalchemy
        self.ref: ProcRef | None = None
        self.uri: str | None = None
        self.since = 0.0
        self._helper_code: int | None = None

    def start(self) -> None:
        self.since = time.time()
        info_file = self.run_dir / "postgres.json"
        info_file.unlink(missing_ok=True)
        with open(self.log_path, "ab") as log:
            self._helper_code = subprocess.run(
                [sys.executable, "-m", "deploy.supervisor_pg", str(self.pg_dir), str(info_file)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=dict(self.env),
                start_new_session=True, timeout=180,
            ).returncode
        info = read_json(info_file) if self._helper_code == 0 else None
        if info:
            self.ref, self.uri = ProcRef.of(int(info["pid"])), str(info["uri"])
        # pgserver widens every parent directory so its user can reach the data; narrow HMS_HOME
        # back to traversable-only for it (see ``home_mode``).
        ensure_home_dir(self.home_dir)

    def exit_code(self) -> int | None:
        if self._helper_code:
            return self._helper_code
        return None if self.ref is not None and self.ref.alive() else 1

    def probe(self) -> str:
        if self.uri is None:
            raise health.NotHealthy("postgres has not reported its address")
        detail = health.postgres(self.uri)
        write_private(self.url_file, (self.to_sqlalchemy(self.uri) + "\n").encode())
        return detail

    def stop(self) -> None:
        if self.ref is not None:
            stop_process(self.ref, 30.0, signal.SIGINT, group=False)

    @staticmethod
    def last_logs(pg_dir: Path, lines: int = 20) -> list[str]:
        from deploy.supervisor_files import tail

        return tail(pg_dir / "log", lines)


Runner = ProcessRunner | PostgresRunner
