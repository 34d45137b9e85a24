"""keyed idempotency keys of FHIR-posted charges

A charge posted over FHIR kept its first identifier in the clear, in ``charge_items.idempotency_key``
(``fhir|<system>|<value>``) and ``source_id`` (the value): a department's accession number for a
patient. They become ``fhir|<blind index>`` and the index's hex (``identifiers_repo.charge_key``), so a resend still finds its charge and the identifier lives only sealed (``resource_identifiers``).
The charge ids already given stay (they are referenced by invoices).

Needs the field cipher (``hms migrate`` passes it, as for 0801) when such rows exist; without it a
database holding them is refused and nothing changes. The downgrade cannot recover the identifiers
from their index and leaves the keys as they are.

Revision ID: 0908
Revises: 0907
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

from activities.storage.identifiers_repo import charge_key
from activities.storage.sealing_migration import PlaintextRowsPresent, refusal

revision = "0908"
down_revision = "0907"
branch_labels = None
depends_on = None

#: Keys in the old form: ``fhir|<system>|<value>`` (the new form has one bar).
_OLD = "source = 'fhir' AND idempotency_key LIKE 'fhir|%|%'"


def upgrade() -> None:
    bind, cipher = op.get_bind(), context.config.attributes.get("field_cipher")
    rows = bind.execute(sa.text(f"SELECT id, idempotency_key FROM hms.charge_items WHERE {_OLD}")).all()
    if rows and cipher is None:
        raise PlaintextRowsPresent(refusal("upgrade", {"charge_items.idempotency_key": len(rows)}))
    for charge_id, key in rows:
        _, system, value = key.split("|", 2)
        new = charge_key(cipher, system, value)
        bind.execute(sa.text("UPDATE hms.charge_items SET idempotency_key = :k, source_id = :s WHERE id = :i"),
                     {"k": new, "s": new.split("|", 1)[1][:120], "i": charge_id})


def downgrade() -> None:
    pass
