"""HMS_HOME stays traversable for pgserver's PostgreSQL user whichever process touches it last."""
from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import pytest

from deploy import supervisor_files
from deploy.supervisor_files import ensure_home_dir, home_mode
from deploy.tls import ensure_tls


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


@pytest.mark.parametrize(("euid", "expected"), [(0, 0o711), (1000, 0o700)])
def test_home_mode_depends_on_who_runs_the_stack(monkeypatch: pytest.MonkeyPatch, euid: int, expected: int) -> None:
    monkeypatch.setattr(supervisor_files.os, "geteuid", lambda: euid)
    assert home_mode() == expected


def test_home_is_narrowed_from_world_readable(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o755)
    os.chmod(home, 0o755)  # as pgserver leaves it after widening the parents of its data
    ensure_home_dir(home)
    assert _mode(home) == home_mode()


def test_the_api_making_its_certificate_keeps_the_home_traversable(tmp_path: Path) -> None:
    """The API calls ensure_tls at start while PostgreSQL runs; it used to chmod the home 0700."""
    home = tmp_path / "home"
    ensure_home_dir(home)
    ensure_tls(SimpleNamespace(home_dir=str(home), tls_dir=str(home / "tls"), host="127.0.0.1"))
    assert _mode(home) == home_mode()
    assert _mode(home / "tls") == 0o700
