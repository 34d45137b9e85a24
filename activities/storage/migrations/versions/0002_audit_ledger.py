"""audit ledger schema (owned by ``ledger``; installed here so one migration run sets up everything)

Revision ID: 0002
Revises: 0001
"""
from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from ledger.schema import install_schema

    install_schema(op.get_bind())


def downgrade() -> None:
    # The audit trail is never dropped by a migration: append-only means append-only.
    pass
