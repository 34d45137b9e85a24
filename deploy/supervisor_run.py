"""The supervisor loop: start services in order, wait for each to be healthy, restart what dies,
and stop everything in reverse order on SIGTERM/SIGINT.

Services are started one after the other because each depends on the previous ones
(PostgreSQL before migrations, Temporal before the worker, the worker before the API).
"""
from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from deploy.procs import Backoff
from deploy.supervisor_files import tail
from deploy.supervisor_runners import Runner
from deploy.supervisor_services import ServiceSpec
from deploy.supervisor_state import RunDir, ServiceState, now_iso

#: A service that exits this many times before it was ever healthy fails ``hms up``.
MAX_EARLY_EXITS = 3


@dataclass
class Managed:
    """A service with its runner, its public state and its restart bookkeeping."""

    spec: ServiceSpec
    runner: Runner
    row: ServiceState
    backoff: Backoff
    started: float = 0.0
    restart_at: float = 0.0
    last_probe: float = 0.0
    log: Path = field(default_factory=Path)


class Supervisor:
    """Runs one stack in the current process until asked to stop."""

    def __init__(self, specs: list[ServiceSpec], run: RunDir, log_dir: Path, env: Mapping[str, str],
                 say: Callable[[str], None] | None = None, backoff: Callable[[], Backoff] = Backoff,
                 poll_interval: float = 0.5) -> None:
        self.run_dir, self.poll_interval = run, poll_interval
        self.say = say or (lambda line: print(line, flush=True))
        self._stop = threading.Event()
        self.phase = "starting"
        self.managed: list[Managed] = []
        for spec in specs:
            log = log_dir / f"{spec.name}.log"
            row = ServiceState(spec.name, spec.kind, url=spec.url, log=str(log))
            self.managed.append(Managed(spec, spec.make_runner(log, env), row, backoff(), log=log))

    def request_stop(self, *_: object) -> None:
        self._stop.set()

    def run(self, install_signals: bool = True) -> int:
        """Start, supervise, stop. 0 after a clean stop, 1 when a service failed to start."""
        if install_signals:
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                signal.signal(sig, self.request_stop)
        ok = True
        self._save()
        try:
            for m in self.managed:
                if self._stop.is_set() or not (ok := self._start_until_healthy(m)):
                    break
            if ok and not self._stop.is_set():
                self.phase = "running"
                self._save()
                self.say(f"stack: all {len(self.managed)} services healthy")
                self._monitor()
        finally:
            self.phase = "stopping"
            self._save()
            self._shutdown()
            self.phase = "stopped" if ok else "failed"
            self._save()
        return 0 if ok else 1

    def _save(self) -> None:
        self.run_dir.save(self.phase, [m.row for m in self.managed])

    def _set(self, m: Managed, state: str, error: str | None = None) -> None:
        m.row.state, m.row.since, m.row.error = state, now_iso(), error
        self._save()

    def _launch(self, m: Managed) -> None:
        m.started = time.monotonic()
        m.runner.start()
        ref = m.runner.ref
        m.row.pid, m.row.create_time = (ref.pid, ref.create_time) if ref else (None, None)
        self._set(m, "starting")

    def _probe(self, m: Managed) -> str | None:
        m.last_probe = time.monotonic()
        try:
            return m.runner.probe()
        except Exception as exc:  # any failure to answer means "not healthy yet"
            m.row.error = f"{type(exc).__name__}: {exc}"[:300]
            return None

    def _schedule_restart(self, m: Managed, code: int) -> float:
        delay = m.backoff.next_delay(time.monotonic() - m.started)
        what = "postmaster is gone" if m.spec.kind == "postgres" else f"exited with {code}"
        self.say(f"{m.spec.name} {what}; restarting in {delay:g} s")
        m.row.restarts += 1
        m.restart_at = time.monotonic() + delay
        self._set(m, "restarting")
        return delay

    def _fail(self, m: Managed, reason: str) -> bool:
        self.say(f"{m.spec.name}: failed: {reason}")
        for path in (m.log, *m.spec.logs):
            lines = tail(path, 20)
            if lines:
                self.say(f"--- last lines of {path} ---")
                for line in lines:
                    self.say(f"  {line}")
        self._set(m, "failed", reason)
        return False

    def _start_until_healthy(self, m: Managed) -> bool:
        name, timeout = m.spec.name, m.spec.startup_timeout
        self.say(f"{name}: starting…")
        self._launch(m)
        deadline, early_exits = time.monotonic() + timeout, 0
        while not self._stop.is_set():
            code = m.runner.exit_code()
            if m.spec.kind == "oneshot" and code is not None:
                if code != 0:
                    return self._fail(m, f"{name} exited with {code}")
                self.say(f"{name}: done")
                self._set(m, "done")
                return True
            if code is not None:
                early_exits += 1
                if early_exits >= MAX_EARLY_EXITS:
                    return self._fail(m, f"{name} exited with {code} {early_exits} times before becoming healthy")
                if self._stop.wait(self._schedule_restart(m, code)):
                    break
                self._launch(m)
                continue
            if m.spec.kind != "oneshot" and (detail := self._probe(m)) is not None:
                self.say(f"{name}: healthy ({detail})")
                self._set(m, "healthy")
                return True
            if time.monotonic() > deadline:
                return self._fail(m, f"{name} not healthy after {timeout:g} s ({m.row.error or 'no answer'})")
            self._stop.wait(self.poll_interval)
        return True

    def _monitor(self) -> None:
        """Restart long-running services that die, with backoff, until asked to stop."""
        while not self._stop.wait(self.poll_interval):
            for m in self.managed:
                if m.spec.kind == "oneshot" or self._stop.is_set():
                    continue
                state = m.row.state
                if state in ("healthy", "starting") and (code := m.runner.exit_code()) is not None:
                    self._schedule_restart(m, code)
                elif state == "restarting" and time.monotonic() >= m.restart_at:
                    self.say(f"{m.spec.name}: restarting…")
                    self._launch(m)
                elif state == "starting" and time.monotonic() - m.last_probe >= 1.0:
                    if (detail := self._probe(m)) is not None:
                        self.say(f"{m.spec.name}: healthy again ({detail})")
                        self._set(m, "healthy")

    def _shutdown(self) -> None:
        for m in reversed(self.managed):
            if m.row.state in ("pending", "stopped"):
                continue
            if m.runner.exit_code() is None:
                self.say(f"{m.spec.name}: stopping…")
                m.runner.stop()
                self.say(f"{m.spec.name}: stopped")
            if m.row.state not in ("done", "failed"):
                self._set(m, "stopped")
