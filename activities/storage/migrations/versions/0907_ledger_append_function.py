"""audit ledger: the one-statement append path (``audit.append_batch``)

Re-runs the ledger's idempotent schema install, which now also creates the server-side append
function the embedded ledger calls (``ledger.schema.APPEND_FUNCTION``); tables and rows are untouched.

Revision ID: 0907
Revises: 0906
"""
from __future__ import annotations

from alembic import op

revision = "0907"
down_revision = "0906"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from ledger.schema import install_schema

    install_schema(op.get_bind())


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS audit.append_batch(text[], timestamptz[], text[], text[], text[], text[], "
               "text[], text[], text[], text[], text[], text[], text[], text[], boolean[], text[], bytea[], bytea[])")
