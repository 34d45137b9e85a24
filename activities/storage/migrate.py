"""Alembic, configured in code so no ``alembic.ini`` has to sit in the working directory."""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from activities.crypto.fields import FieldCipher

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def alembic_config(database_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser interpolation would choke on '%' in URL-encoded passwords.
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return cfg


def upgrade(database_url: str, revision: str = "heads", cipher: FieldCipher | None = None) -> None:
    """Bring the database schema (clinical store and audit ledger) to ``revision``.

    ``cipher`` (the field cipher of ``$HMS_HOME/keys``) lets a migration that seals plaintext
    columns encrypt the rows already stored; without it such a migration refuses a database
    holding them.
    """
    cfg = alembic_config(database_url)
    cfg.attributes["field_cipher"] = cipher
    command.upgrade(cfg, revision)
