"""Alembic environment: online migrations only, against the configured URL."""
from __future__ import annotations

import sqlalchemy as sa
from alembic import context

import activities.storage.models_billing  # noqa: F401  (billing and discharge tables)
import activities.storage.models_corrections  # noqa: F401  (patients' correction requests)
import activities.storage.models_imaging  # noqa: F401  (imaging tables)
import activities.storage.models_keys  # noqa: F401  (wrapped data keys, legal holds)
import activities.storage.models_pharmacy  # noqa: F401  (pharmacy tables)
import activities.storage.models_security  # noqa: F401  (clinical notes, break-glass grants)
import activities.storage.models_triage  # noqa: F401  (triage and intake tables)
from activities.storage.models import SCHEMA, Base

config = context.config


def run_migrations_online() -> None:
    engine = sa.create_engine(config.get_main_option("sqlalchemy.url"), poolclass=sa.pool.NullPool)
    with engine.connect() as connection:
        connection.execute(sa.text(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}"))
        # Serialise concurrent migrators (two services starting at once).
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(727274)"))
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            version_table_schema=SCHEMA,
            include_schemas=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()
    engine.dispose()


run_migrations_online()
