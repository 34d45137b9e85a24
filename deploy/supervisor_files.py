"""Private files under HMS_HOME: directories 0700, keys and state 0600, written atomically.

HMS_HOME holds the database, keys and certificates of a hospital's stack, so nothing in it
is readable by other local users, and a reader never sees a half-written file.
"""
from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any


def ensure_private_dir(path: Path, mode: int = 0o700) -> Path:
    """Create ``path`` (and parents) and make sure it is not group/world accessible."""
    path.mkdir(parents=True, exist_ok=True)
    if path.stat().st_mode & 0o777 != mode:
        path.chmod(mode)
    return path


def home_mode() -> int:
    """HMS_HOME's mode: 0700, or 0711 as root, where pgserver runs PostgreSQL as its own system user.

    That user must traverse HMS_HOME to reach its data directory; a home tightened to 0700 while
    the server runs makes PostgreSQL's checkpointer fail (``could not stat data directory``) and
    the postmaster exit. 0711 lets it pass through without listing or reading anything.
    """
    return 0o711 if os.geteuid() == 0 else 0o700


def ensure_home_dir(path: Path) -> Path:
    """Create HMS_HOME with ``home_mode()``; every process of the stack that touches it calls this."""
    return ensure_private_dir(path, home_mode())


def write_private(path: Path, data: bytes) -> None:
    """Atomically replace ``path`` with ``data``, readable by the owner only."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def write_json(path: Path, obj: Any) -> None:
    write_private(path, (json.dumps(obj, indent=2) + "\n").encode())


def read_json(path: Path) -> Any | None:
    """The JSON in ``path``, or None when it is missing or unreadable (e.g. mid-crash)."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def tail(path: Path, lines: int = 20) -> list[str]:
    """The last lines of a log file (empty when there is none), for error reports."""
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 64 * 1024))
            text = fh.read().decode(errors="replace")
    except OSError:
        return []
    return text.splitlines()[-lines:]


def open_lock(path: Path) -> int:
    """A descriptor of a private lock file, for ``fcntl.flock``."""
    return os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
