"""PostgreSQL schema of the embedded ledger, with append-only enforced by the database itself.

Application code never updates or deletes audit rows, but that is a promise; the triggers make it a
rule the database keeps even against a compromised application or a careless operator. Only a
superuser who deliberately disables triggers can change history, and ``verify()`` then exposes it.
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa

SCHEMA = "audit"

# Advisory-lock keys: derived from fixed names so every process agrees on them without coordination.
APPEND_LOCK = int.from_bytes(hashlib.sha256(b"hms.audit.append").digest()[:8], "big", signed=True)
DDL_LOCK = int.from_bytes(hashlib.sha256(b"hms.audit.ddl").digest()[:8], "big", signed=True)

_DDL = [
    f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}",
    f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.entries (
        idx bigint PRIMARY KEY CHECK (idx >= 0),
        event_id text NOT NULL UNIQUE,
        recorded timestamptz NOT NULL,
        actor text NOT NULL,
        role text NOT NULL,
        action text NOT NULL,
        subtype text NOT NULL,
        outcome text NOT NULL,
        resource_type text NOT NULL,
        resource_id text,
        patient_id text,
        purpose text,
        decision text NOT NULL,
        reason text NOT NULL,
        source text NOT NULL,
        break_glass boolean NOT NULL,
        detail_hash text,
        canonical bytea NOT NULL,
        leaf_hash bytea NOT NULL CHECK (octet_length(leaf_hash) = 32)
    )""",
    f"CREATE INDEX IF NOT EXISTS entries_patient_recorded ON {SCHEMA}.entries (patient_id, recorded)",
    f"CREATE INDEX IF NOT EXISTS entries_actor_recorded ON {SCHEMA}.entries (actor, recorded)",
    f"CREATE INDEX IF NOT EXISTS entries_recorded ON {SCHEMA}.entries (recorded)",
    # Every perfect subtree's hash, leaves included (level 0), so roots and proofs are O(log n) lookups.
    f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.nodes (
        level smallint NOT NULL CHECK (level >= 0),
        idx bigint NOT NULL CHECK (idx >= 0),
        hash bytea NOT NULL CHECK (octet_length(hash) = 32),
        PRIMARY KEY (level, idx)
    )""",
    f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.tree_heads (
        id bigserial PRIMARY KEY,
        tree_size bigint NOT NULL CHECK (tree_size >= 0),
        root_hash bytea NOT NULL,
        ts timestamptz NOT NULL,
        key_id text NOT NULL,
        signature bytea NOT NULL
    )""",
    f"CREATE INDEX IF NOT EXISTS tree_heads_size ON {SCHEMA}.tree_heads (tree_size, key_id)",
    f"""CREATE OR REPLACE FUNCTION {SCHEMA}.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'audit.% is append-only: % refused', TG_TABLE_NAME, TG_OP;
    END
    $$""",
]
# Statement-level so that even an UPDATE or DELETE matching no rows is refused.
_DDL += [
    f"""CREATE OR REPLACE TRIGGER {table}_append_only
        BEFORE UPDATE OR DELETE OR TRUNCATE ON {SCHEMA}.{table}
        FOR EACH STATEMENT EXECUTE FUNCTION {SCHEMA}.refuse_change()"""
    for table in ("entries", "nodes", "tree_heads")
]


def install_schema(conn: sa.Connection) -> None:
    """Create the ``audit`` schema, tables, indexes and triggers; safe to run again and concurrently.

    Runs inside the caller's transaction (the app's Alembic migration, or a test).
    """
    conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": DDL_LOCK})
    for statement in _DDL:
        conn.execute(sa.text(statement))
