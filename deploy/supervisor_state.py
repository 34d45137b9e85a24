"""What a running supervisor leaves in ``$HMS_HOME/run``: its lock, its pid and the services' state.

The lock (``flock`` on ``supervisor.lock``) is the truth about "is a stack running for this
HMS_HOME": the kernel releases it when the supervisor dies, however it dies. ``state.json``
tells ``hms status`` and ``hms up --detach`` how each service is doing, and lets a later
``hms up``/``hms down`` stop processes a crashed supervisor left behind.
"""
from __future__ import annotations

import datetime as dt
import fcntl
import os
import signal
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from deploy.procs import ProcRef, stop_process
from deploy.supervisor_files import ensure_private_dir, open_lock, read_json, write_json, write_private

STATES = ("pending", "starting", "healthy", "restarting", "done", "failed", "stopped")


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


@dataclass
class ServiceState:
    """One row of ``state.json``."""

    name: str
    kind: str
    state: str = "pending"
    pid: int | None = None
    create_time: float | None = None
    since: str = ""
    restarts: int = 0
    url: str = ""
    log: str = ""
    error: str | None = None


class RunDir:
    """The ``run`` directory of one HMS_HOME."""

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir
        self.lock_file = run_dir / "supervisor.lock"
        self.pid_file = run_dir / "supervisor.pid"
        self.state_file = run_dir / "state.json"
        self._lock: int | None = None

    def acquire(self) -> bool:
        """Take the supervisor lock for this process; False when another supervisor holds it."""
        ensure_private_dir(self.path)
        fd = open_lock(self.lock_file)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._lock = fd
        write_private(self.pid_file, f"{os.getpid()}\n".encode())
        return True

    def release(self) -> None:
        if self._lock is not None:
            self.pid_file.unlink(missing_ok=True)
            os.close(self._lock)
            self._lock = None

    def running_pid(self) -> int | None:
        """The pid of the supervisor holding the lock, or None when no stack is running."""
        if not self.lock_file.exists():
            return None
        fd = open_lock(self.lock_file)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                return int(self.pid_file.read_text().strip())
            except (OSError, ValueError):
                return -1  # locked, pid file not written yet
        finally:
            os.close(fd)
        return None

    def save(self, phase: str, services: list[ServiceState], supervisor_pid: int | None = None) -> None:
        ensure_private_dir(self.path)
        write_json(self.state_file, {
            "supervisor": {"pid": supervisor_pid or os.getpid(), "phase": phase, "updated": now_iso()},
            "services": {s.name: asdict(s) for s in services},
        })

    def load(self) -> dict[str, Any] | None:
        data = read_json(self.state_file)
        return data if isinstance(data, dict) and isinstance(data.get("services"), dict) else None

    def services(self) -> list[ServiceState]:
        data = self.load() or {"services": {}}
        fields = set(ServiceState.__dataclass_fields__)
        return [ServiceState(**{k: v for k, v in row.items() if k in fields}) for row in data["services"].values()
                if isinstance(row, dict)]


def reap_leftovers(run: RunDir, say: Any = print) -> int:
    """Stop processes that ``state.json`` records and that still run although no supervisor does.

    Called only when the lock is free, i.e. after a supervisor was killed without cleaning up.
    Returns how many processes were stopped.
    """
    stopped = 0
    for svc in reversed(run.services()):
        if svc.pid is None or svc.create_time is None:
            continue
        ref = ProcRef(svc.pid, svc.create_time)
        if ref.alive():
            say(f"{svc.name}: stopping leftover process {svc.pid} from a previous run")
            if svc.kind == "postgres":
                stop_process(ref, 30.0, signal.SIGINT, group=False)
            else:
                stop_process(ref, 10.0)
            stopped += 1
    return stopped
