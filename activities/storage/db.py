"""Engines and sessions for the clinical store."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker


def make_engine(database_url: str, *, pool_size: int = 10) -> sa.Engine:
    """An engine for the psycopg 3 dialect; pre-ping so a restarted server is survived."""
    return sa.create_engine(database_url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


def make_session_factory(engine: sa.Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
