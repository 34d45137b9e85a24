"""Fixtures shared by every test tier.

PostgreSQL: ``HMS_TEST_DATABASE_URL`` if set (any server), else an embedded
``pgserver`` started once per session in a temporary directory. Each session
gets its own freshly created database so runs never see each other's rows.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa


def _sqlalchemy_url(uri: str) -> str:
    if uri.startswith("postgresql://"):
        return "postgresql+psycopg://" + uri[len("postgresql://"):]
    return uri


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """A URL of a PostgreSQL server's maintenance database (``postgres``)."""
    url = os.environ.get("HMS_TEST_DATABASE_URL")
    if url:
        yield _sqlalchemy_url(url)
        return
    import pgserver

    datadir = tempfile.mkdtemp(prefix="hms-test-pg-")
    server = pgserver.get_server(datadir, cleanup_mode="stop")
    try:
        yield _sqlalchemy_url(server.get_uri())
    finally:
        server.cleanup()
        shutil.rmtree(datadir, ignore_errors=True)


def create_database(server_url: str) -> str:
    """Create an empty database on the server and return its URL."""
    name = f"hms_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return sa.make_url(server_url).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def database_url(pg_server_url: str) -> str:
    """A fresh, empty database for this test session."""
    return create_database(pg_server_url)


@pytest.fixture
def fresh_database_url(pg_server_url: str) -> str:
    """A fresh, empty database for one test (for tests that need isolation)."""
    return create_database(pg_server_url)
