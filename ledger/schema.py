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


#: The append path as one statement (``ledger.embedded_append``): a batch of events, their canonical bytes and
#: leaf hashes in, each event's index out — one round trip instead of three. Under the append lock it reads the
#: log's size, keeps events already recorded (same id and same bytes: their stored entry is returned; same id
#: and other bytes: SQLSTATE HM409, nothing written), numbers the fresh ones gap-free in order and computes
#: every perfect-subtree node they close (RFC 9162: SHA-256(0x01 || left || right)), taking a left sibling
#: from this batch when it was just made, else from ``audit.nodes`` (a missing one is SQLSTATE HM500).
#: Run as a statement of its own in autocommit mode, it is its own transaction: committed when it returns.
APPEND_FUNCTION = f"""
CREATE OR REPLACE FUNCTION {SCHEMA}.append_batch(
    p_event_id text[], p_recorded timestamptz[], p_actor text[], p_role text[], p_action text[], p_subtype text[],
    p_outcome text[], p_resource_type text[], p_resource_id text[], p_patient_id text[], p_purpose text[],
    p_decision text[], p_reason text[], p_source text[], p_break_glass boolean[], p_detail_hash text[],
    p_canonical bytea[], p_leaf_hash bytea[])
RETURNS TABLE (r_pos integer, r_idx bigint, r_canonical bytea, r_leaf bytea)
LANGUAGE plpgsql AS $fn$
DECLARE
    n integer := coalesce(array_length(p_event_id, 1), 0);
    next_idx bigint;
    i integer;
    j integer;
    stored record;
    fresh_pos integer[] := '{{}}';
    fresh_ids text[] := '{{}}';
    fresh_idx bigint[] := '{{}}';
    n_level smallint[] := '{{}}';
    n_idx bigint[] := '{{}}';
    n_hash bytea[] := '{{}}';
    front_idx bigint[] := '{{}}';
    front_hash bytea[] := '{{}}';
    lv smallint;
    ix bigint;
    h bytea;
    sib bytea;
BEGIN
    PERFORM pg_advisory_xact_lock({APPEND_LOCK});
    SELECT coalesce(max(e.idx) + 1, 0) INTO next_idx FROM {SCHEMA}.entries e;
    FOR i IN 1..n LOOP
        j := array_position(fresh_ids, p_event_id[i]);
        IF j IS NOT NULL THEN
            IF p_canonical[fresh_pos[j]] <> p_canonical[i] THEN
                RAISE EXCEPTION 'event_id % already recorded with different content', p_event_id[i]
                    USING ERRCODE = 'HM409';
            END IF;
            r_pos := i; r_idx := fresh_idx[j]; r_canonical := NULL; r_leaf := NULL;
            RETURN NEXT;
            CONTINUE;
        END IF;
        SELECT e.idx, e.canonical, e.leaf_hash INTO stored FROM {SCHEMA}.entries e WHERE e.event_id = p_event_id[i];
        IF FOUND THEN
            IF stored.canonical <> p_canonical[i] THEN
                RAISE EXCEPTION 'event_id % already recorded with different content', p_event_id[i]
                    USING ERRCODE = 'HM409';
            END IF;
            r_pos := i; r_idx := stored.idx; r_canonical := stored.canonical; r_leaf := stored.leaf_hash;
            RETURN NEXT;
            CONTINUE;
        END IF;
        fresh_pos := fresh_pos || i;
        fresh_ids := fresh_ids || p_event_id[i];
        fresh_idx := fresh_idx || next_idx;
        lv := 0; ix := next_idx; h := p_leaf_hash[i];
        LOOP
            n_level := n_level || lv; n_idx := n_idx || ix; n_hash := n_hash || h;
            IF mod(ix, 2) = 0 THEN
                front_idx[lv + 1] := ix; front_hash[lv + 1] := h;
                EXIT;
            END IF;
            IF front_idx[lv + 1] = ix - 1 THEN
                sib := front_hash[lv + 1];
            ELSE
                SELECT nd.hash INTO sib FROM {SCHEMA}.nodes nd WHERE nd.level = lv AND nd.idx = ix - 1;
                IF NOT FOUND THEN
                    RAISE EXCEPTION 'tree node (%, %) missing; run verify()', lv, ix - 1 USING ERRCODE = 'HM500';
                END IF;
            END IF;
            h := sha256('\\x01'::bytea || sib || h);
            lv := lv + 1; ix := ix / 2;
        END LOOP;
        r_pos := i; r_idx := next_idx; r_canonical := NULL; r_leaf := NULL;
        RETURN NEXT;
        next_idx := next_idx + 1;
    END LOOP;
    IF array_length(fresh_pos, 1) > 0 THEN
        INSERT INTO {SCHEMA}.entries (idx, event_id, recorded, actor, role, action, subtype, outcome, resource_type,
                                      resource_id, patient_id, purpose, decision, reason, source, break_glass,
                                      detail_hash, canonical, leaf_hash)
        SELECT f.idx, p_event_id[f.pos], p_recorded[f.pos], p_actor[f.pos], p_role[f.pos], p_action[f.pos],
               p_subtype[f.pos], p_outcome[f.pos], p_resource_type[f.pos], p_resource_id[f.pos],
               p_patient_id[f.pos], p_purpose[f.pos], p_decision[f.pos], p_reason[f.pos], p_source[f.pos],
               p_break_glass[f.pos], p_detail_hash[f.pos], p_canonical[f.pos], p_leaf_hash[f.pos]
        FROM unnest(fresh_pos, fresh_idx) AS f(pos, idx);
        INSERT INTO {SCHEMA}.nodes (level, idx, hash) SELECT * FROM unnest(n_level, n_idx, n_hash);
    END IF;
END
$fn$"""


def install_schema(conn: sa.Connection) -> None:
    """Create the ``audit`` schema, tables, indexes and triggers; safe to run again and concurrently.

    Runs inside the caller's transaction (the app's Alembic migration, or a test).
    """
    conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": DDL_LOCK})
    for statement in _DDL:
        conn.execute(sa.text(statement))
    # Through the driver without parameters, so the function's own '%' placeholders (RAISE) are sent as they are.
    conn.connection.driver_connection.execute(APPEND_FUNCTION)
