"""Child processes of the local stack: spawning, liveness, stopping, ports and restart backoff.

Every long-running service is its own process in its own session, so a Ctrl-C on the
terminal reaches only the supervisor, which then stops the services in reverse order.
"""
from __future__ import annotations

import errno
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil  # a dependency of pgserver; used to tell our processes from recycled pids


@dataclass(frozen=True)
class ProcRef:
    """A pid plus its start time: a pid alone may be reused by an unrelated process."""

    pid: int
    create_time: float

    @classmethod
    def of(cls, pid: int) -> ProcRef | None:
        try:
            return cls(pid, psutil.Process(pid).create_time())
        except psutil.Error:
            return None

    def alive(self) -> bool:
        try:
            proc = psutil.Process(self.pid)
            return proc.create_time() == self.create_time and proc.status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            return False


def spawn(argv: Sequence[str], log_path: Path, env: Mapping[str, str]) -> subprocess.Popen[bytes]:
    """Start ``argv`` in a new session with stdout and stderr appended to ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        return subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=fd, stderr=subprocess.STDOUT,
                                env=dict(env), start_new_session=True, close_fds=True)
    finally:
        os.close(fd)


def _signal(ref: ProcRef, sig: int, group: bool) -> None:
    if not ref.alive():
        return
    try:
        if group and os.getpgid(ref.pid) == ref.pid:
            os.killpg(ref.pid, sig)
        else:
            os.kill(ref.pid, sig)
    except ProcessLookupError:
        pass


def wait_gone(ref: ProcRef, timeout: float, popen: subprocess.Popen[bytes] | None = None) -> bool:
    """Wait until the process has exited (reaping it when it is our child)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if popen is not None and popen.poll() is not None:
            return True
        if not ref.alive():
            return True
        time.sleep(0.05)
    return not ref.alive()


def stop_process(ref: ProcRef, grace: float = 10.0, first_signal: int = signal.SIGTERM,
                 popen: subprocess.Popen[bytes] | None = None, group: bool = True) -> None:
    """Ask politely (``first_signal``), wait ``grace`` seconds, then SIGKILL."""
    _signal(ref, first_signal, group)
    if not wait_gone(ref, grace, popen):
        _signal(ref, signal.SIGKILL, group)
        wait_gone(ref, 5.0, popen)
    if popen is not None:
        try:
            popen.wait(timeout=1)
        except subprocess.TimeoutExpired:
            pass


def port_in_use(host: str, port: int) -> bool:
    """True when something listens on ``host:port`` (binding is refused)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # ignore TIME_WAIT leftovers
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return True
            raise
    return False


def free_port(host: str = "127.0.0.1") -> int:
    """A port the kernel considers free right now (tests and side-by-side stacks)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass
class Backoff:
    """Exponential restart delays (1 s, 2 s, 4 s … capped), reset once a child stays up.

    A crash loop must not spin the CPU the other services need, but a service that ran
    fine for a while and then died once should come back quickly.
    """

    initial: float = 1.0
    maximum: float = 30.0
    factor: float = 2.0
    reset_after: float = 60.0
    _next: float = 0.0

    def next_delay(self, uptime: float) -> float:
        """The delay before the next restart of a child that ran for ``uptime`` seconds."""
        if self._next <= 0 or uptime >= self.reset_after:
            self._next = self.initial
        delay = self._next
        self._next = min(self.maximum, self._next * self.factor)
        return delay
