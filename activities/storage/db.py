"""Engines and sessions for the clinical store."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker


def make_engine(database_url: str, *, pool_size: int = 10) -> sa.Engine:
    """An engine for the psycopg 3 dialect, without a ping before every checkout.

    A ping is one more round trip on every request and activity (three on a PHI read). A
    restarted server is survived without it: the first statement on a dead connection fails
    as a disconnect, SQLAlchemy then invalidates the whole pool, that one request answers 503
    (``api.app``) or that activity is retried by Temporal, and the next checkouts reconnect.
    """
    return sa.create_engine(database_url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=False)


def make_session_factory(engine: sa.Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
