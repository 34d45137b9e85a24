"""eMAR corrections: an administration can be marked entered-in-error, keeping the original row

``medication_administrations`` gains ``entered_in_error_by`` (the user who corrected it) and
``entered_in_error_at``. The recorded status, reason and recorder stay as they were: the
correction nullifies the record without rewriting it (``activities.storage.emar_corrections``).
User ids only, no clinical text, so the columns are plain.

Revision ID: 0904
Revises: 0903 (clinical fields sealed)
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0904"
down_revision = "0903"
branch_labels = None
depends_on = None

S = "hms"
TABLE = "medication_administrations"


def upgrade() -> None:
    op.add_column(TABLE, sa.Column("entered_in_error_by", sa.String(60), nullable=True), schema=S)
    op.add_column(TABLE, sa.Column("entered_in_error_at", sa.DateTime(timezone=True), nullable=True), schema=S)


def downgrade() -> None:
    op.drop_column(TABLE, "entered_in_error_at", schema=S)
    op.drop_column(TABLE, "entered_in_error_by", schema=S)
