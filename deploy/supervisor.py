"""``hms up``, ``hms down`` and ``hms status``: the local stack of one HMS_HOME.

``hms up`` runs the supervisor in the foreground (Ctrl-C stops everything); ``--detach``
starts the same supervisor as a background session and returns once every service is
healthy. Services, their order and their probes are in :mod:`deploy.supervisor_services`;
the loop is in :mod:`deploy.supervisor_run`.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from deploy.procs import ProcRef, port_in_use, wait_gone
from deploy.settings import Settings
from deploy.supervisor_files import ensure_home_dir, ensure_private_dir, tail
from deploy.supervisor_run import Supervisor
from deploy.supervisor_services import ServiceSpec, build_services, child_env, hms_argv
from deploy.supervisor_state import RunDir, reap_leftovers

DETACH_TIMEOUT = 180.0
EXIT_NOT_RUNNING = 3


def _err(message: str) -> None:
    print(f"hms: {message}", file=sys.stderr, flush=True)


def prepare_home(settings: Settings) -> RunDir:
    """Create HMS_HOME (see ``home_mode``) and its private subdirectories (0700)."""
    ensure_home_dir(settings.home_dir)
    for path in (settings.run_dir, settings.log_dir, settings.tls_dir):
        ensure_private_dir(path)
    return RunDir(settings.run_dir)


def busy_ports(settings: Settings, specs: list[ServiceSpec]) -> list[str]:
    """One message per port a service of this stack needs but something else listens on."""
    return [f"port {port} ({var}) is in use by another process; set {var} to a free port"
            for spec in specs for port, var in spec.ports if port_in_use(settings.host, port)]


def up(settings: Settings, detach: bool = False, timeout: float = DETACH_TIMEOUT) -> int:
    """Start the stack; with ``detach`` return once it is healthy (0) or failed (1)."""
    run = prepare_home(settings)
    if (pid := run.running_pid()) is not None:
        _err(f"a stack is already running for HMS_HOME={settings.home_dir} (supervisor pid {pid}); "
             "see `hms status`, stop it with `hms down`")
        return 1
    try:
        specs = build_services(settings)
    except (ValueError, RuntimeError) as exc:
        _err(str(exc))
        return 2
    reap_leftovers(run)
    if problems := busy_ports(settings, specs):
        for problem in problems:
            _err(problem)
        return 1
    from deploy.tls import ensure_tls

    ensure_tls(settings)
    if detach:
        return _detach(settings, run, timeout)
    if not run.acquire():
        _err(f"a stack is already running for HMS_HOME={settings.home_dir}")
        return 1
    try:
        print(f"hms: starting the stack of HMS_HOME={settings.home_dir} (supervisor pid {os.getpid()})", flush=True)
        return Supervisor(specs, run, settings.log_dir, child_env(settings)).run()
    finally:
        run.release()


def _echo(log: Path, offset: int) -> int:
    """Print what the background supervisor wrote since ``offset``; return the new offset."""
    try:
        with log.open("rb") as fh:
            fh.seek(offset)
            chunk = fh.read()
    except OSError:
        return offset
    complete = chunk[: chunk.rfind(b"\n") + 1]
    if complete:
        sys.stdout.write(complete.decode(errors="replace"))
        sys.stdout.flush()
    return offset + len(complete)


def _detach(settings: Settings, run: RunDir, timeout: float) -> int:
    log = settings.log_dir / "supervisor.log"
    offset = log.stat().st_size if log.exists() else 0
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        proc = subprocess.Popen(hms_argv("up"), stdin=subprocess.DEVNULL, stdout=fd, stderr=subprocess.STDOUT,
                                env=child_env(settings), start_new_session=True, close_fds=True)
    finally:
        os.close(fd)
    deadline = time.monotonic() + timeout
    try:
        while True:
            offset = _echo(log, offset)
            state = run.load() or {}
            supervisor = state.get("supervisor", {})
            if supervisor.get("pid") == proc.pid and supervisor.get("phase") == "running":
                print(f"hms: stack is up in the background (supervisor pid {proc.pid}, log {log})")
                return 0
            if proc.poll() is not None:
                _echo(log, offset)
                _err(f"the stack did not start (supervisor exited with {proc.returncode}); see {settings.log_dir}")
                return 1
            if time.monotonic() > deadline:
                _report_unhealthy(run, timeout)
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=120)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    reap_leftovers(run)
                return 1
            time.sleep(0.3)
    except KeyboardInterrupt:
        _err("stopped waiting; the stack keeps starting in the background (`hms status`, `hms down`)")
        return 130


def _report_unhealthy(run: RunDir, timeout: float) -> None:
    for svc in run.services():
        if svc.state not in ("healthy", "done"):
            _err(f"{svc.name} is {svc.state} after {timeout:g} s" + (f": {svc.error}" if svc.error else ""))
            for line in tail(Path(svc.log), 20) if svc.log else []:
                print(f"  {line}", file=sys.stderr)
    _err("stopping the stack")


def down(settings: Settings, timeout: float = 120.0) -> int:
    """Stop the stack of this HMS_HOME (0 also when none was running)."""
    run = RunDir(settings.run_dir)
    pid = run.running_pid()
    if pid is None:
        stopped = reap_leftovers(run)
        extra = f"; stopped {stopped} leftover process(es)" if stopped else ""
        print(f"hms: no stack is running for HMS_HOME={settings.home_dir}{extra}")
        return 0
    deadline = time.monotonic() + timeout
    while pid == -1 and time.monotonic() < deadline:  # the supervisor is writing its pid file
        time.sleep(0.1)
        pid = run.running_pid()
    if pid is None:
        print(f"hms: no stack is running for HMS_HOME={settings.home_dir}")
        return 0
    log = settings.log_dir / "supervisor.log"
    offset = log.stat().st_size if log.exists() else 0
    print(f"hms: stopping the stack of HMS_HOME={settings.home_dir} (supervisor pid {pid})", flush=True)
    supervisor_ref = ProcRef.of(pid)
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    while run.running_pid() is not None and time.monotonic() < deadline:
        offset = _echo(log, offset)
        time.sleep(0.2)
    _echo(log, offset)
    if run.running_pid() is not None:
        _err(f"supervisor {pid} did not stop within {timeout:g} s; killing it")
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    if supervisor_ref is not None:  # the lock is released just before the interpreter exits
        wait_gone(supervisor_ref, 10.0)
    reap_leftovers(run)
    print("hms: stack stopped")
    return 0


def status(settings: Settings) -> int:
    """Print the services' table; 0 iff all are healthy, 3 when no stack runs, else 1."""
    run = RunDir(settings.run_dir)
    pid = run.running_pid()
    if pid is None:
        print(f"hms: no stack is running for HMS_HOME={settings.home_dir}")
        return EXIT_NOT_RUNNING
    state = run.load() or {}
    phase = state.get("supervisor", {}).get("phase", "starting")
    services = run.services()
    print(f"stack of HMS_HOME={settings.home_dir}: {phase} (supervisor pid {pid})")
    print(f"{'SERVICE':<10} {'STATE':<11} {'PID':>8} {'RESTARTS':>8}  URL")
    for svc in services:
        print(f"{svc.name:<10} {svc.state:<11} {svc.pid or '-':>8} {svc.restarts:>8}  {svc.url}")
    ok = phase == "running" and all(svc.state in ("healthy", "done") for svc in services)
    return 0 if ok else 1
