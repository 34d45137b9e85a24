"""Backends for the ledger contract suite: embedded on a fresh database, immudb when one is reachable."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.base import Ledger
from ledger.embedded import EmbeddedLedger, install_schema
from ledger.keys import key_id_for
from ledger.model import AuditEvent

BASE_TIME = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
IMMUDB_SKIP = "HMS_IMMUDB_URL not set: no immudb server to run the contract suite against"


def _make_event(n: int, **overrides: object) -> AuditEvent:
    """A plausible audit event; ``n`` makes ids and times distinct and ordered."""
    values: dict[str, object] = {
        "event_id": f"evt-{n}-{uuid.uuid4().hex[:8]}",
        "recorded": BASE_TIME + timedelta(minutes=n),
        "actor": "attending-1",
        "role": "attending_physician",
        "action": "R",
        "subtype": "patient.read",
        "outcome": "0",
        "resource_type": "Patient",
        "resource_id": f"pat-{n % 3}",
        "patient_id": f"pat-{n % 3}",
        "purpose": "TREAT",
        "decision": "allow",
        "reason": "care team member",
    }
    values.update(overrides)
    return AuditEvent(**values)  # type: ignore[arg-type]


@pytest.fixture
def make_event():
    """Factory of plausible audit events: ``make_event(n, **overrides)``."""
    return _make_event


@pytest.fixture
def signing_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def ledger_engine(fresh_database_url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(fresh_database_url, pool_size=10)
    with engine.begin() as conn:
        install_schema(conn)
    yield engine
    engine.dispose()


@pytest.fixture
def embedded_ledger(ledger_engine: sa.Engine, signing_key: Ed25519PrivateKey) -> EmbeddedLedger:
    return EmbeddedLedger(ledger_engine, signing_key, key_id_for(signing_key.public_key()))


def _immudb_reachable(url: str) -> bool:
    host, _, port = url.rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port or 3322)), timeout=2):
            return True
    except (OSError, ValueError):
        return False


@pytest.fixture
def immudb_ledger(tmp_path: Path) -> Ledger:
    url = os.environ.get("HMS_IMMUDB_URL")
    if not url:
        pytest.skip(IMMUDB_SKIP)
    if not _immudb_reachable(url):
        pytest.skip(
            f"HMS_IMMUDB_URL={url} is not reachable: no immudb server to run the contract suite against"
        )
    from ledger.immudb_backend import ImmudbLedger, create_database

    user = os.environ.get("HMS_IMMUDB_USER", "immudb")
    password = os.environ.get("HMS_IMMUDB_PASSWORD", "immudb")
    database = f"hmstest{uuid.uuid4().hex[:12]}"
    create_database(url, user, password, database)
    return ImmudbLedger(url, user, password, database, tmp_path / "immudb-state")


@pytest.fixture(params=["embedded", "immudb"])
def ledger(request: pytest.FixtureRequest) -> Ledger:
    """Every backend in turn; the contract suite runs once per backend."""
    return request.getfixturevalue(f"{request.param}_ledger")
