"""Tampering with the embedded ledger: the database refuses it, and verify() exposes whoever gets past."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from ledger import merkle
from ledger.embedded import EmbeddedLedger
from ledger.model import AuditEvent

pytestmark = pytest.mark.integration
SIZE = 12


@pytest.fixture
def filled(embedded_ledger: EmbeddedLedger, make_event) -> EmbeddedLedger:
    embedded_ledger.append_many([make_event(n) for n in range(SIZE // 2)])
    embedded_ledger.signed_head()
    embedded_ledger.append_many([make_event(n) for n in range(SIZE // 2, SIZE)])
    embedded_ledger.signed_head()
    assert embedded_ledger.verify().ok
    return embedded_ledger


def _as_superuser_without_triggers(engine: sa.Engine, *statements: tuple[str, dict]) -> None:
    """What an operator with superuser rights could do behind the application's back."""
    with engine.begin() as conn:
        conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
        for sql, params in statements:
            conn.execute(sa.text(sql), params)


def _mentions(problems: list[str], index: int) -> bool:
    pattern = re.compile(rf"\bentr(y|ies) {index}\b|\bentries \d+\.\.{index}\b|\b{index}\.\.\d+")
    return any(pattern.search(p) for p in problems)


def test_changed_column_is_reported(filled: EmbeddedLedger, ledger_engine: sa.Engine) -> None:
    _as_superuser_without_triggers(
        ledger_engine, ("UPDATE audit.entries SET patient_id = 'pat-x' WHERE idx = 3", {})
    )
    report = filled.verify()
    assert not report.ok
    assert any("entry 3" in p and "patient_id" in p for p in report.problems), report.problems


def test_changed_canonical_bytes_are_reported(filled: EmbeddedLedger, ledger_engine: sa.Engine) -> None:
    _as_superuser_without_triggers(
        ledger_engine,
        (
            "UPDATE audit.entries SET canonical = "
            "convert_to(replace(convert_from(canonical, 'UTF8'), 'care team', 'emergency'), 'UTF8') "
            "WHERE idx = 4",
            {},
        ),
    )
    report = filled.verify()
    assert not report.ok
    assert any(p.startswith("entry 4: leaf hash does not match") for p in report.problems), report.problems


def test_a_consistent_rewrite_of_one_row_is_caught_by_the_stored_tree(
    filled: EmbeddedLedger, ledger_engine: sa.Engine
) -> None:
    forged = AuditEvent.from_canonical(filled.get(5).event.canonical_bytes())
    forged = AuditEvent(**{**forged.__dict__, "actor": "attending-2"})
    data = forged.canonical_bytes()
    _as_superuser_without_triggers(
        ledger_engine,
        (
            "UPDATE audit.entries SET actor = :a, canonical = :c, leaf_hash = :h WHERE idx = 5",
            {"a": forged.actor, "c": data, "h": merkle.leaf_hash(data)},
        ),
    )
    report = filled.verify()
    assert not report.ok
    assert any(p.startswith("entry 5: stored level-0 hash does not match") for p in report.problems), (
        report.problems
    )


def test_rewriting_row_and_whole_tree_is_caught_by_signed_heads(
    filled: EmbeddedLedger, ledger_engine: sa.Engine
) -> None:
    events = [filled.get(i).event for i in range(SIZE)]
    forged = AuditEvent(**{**events[2].__dict__, "purpose": "HPAYMT"})
    events[2] = forged
    leaves = [merkle.leaf_hash(e.canonical_bytes()) for e in events]
    lookup = merkle.memory_lookup(leaves)
    with ledger_engine.connect() as conn:
        keys = [(r.level, r.idx) for r in conn.execute(sa.text("SELECT level, idx FROM audit.nodes"))]
    _as_superuser_without_triggers(
        ledger_engine,
        (
            "UPDATE audit.entries SET purpose = 'HPAYMT', canonical = :c, leaf_hash = :h WHERE idx = 2",
            {"c": forged.canonical_bytes(), "h": leaves[2]},
        ),
        *[
            (
                "UPDATE audit.nodes SET hash = :h WHERE level = :l AND idx = :i",
                {"h": lookup(lv, ix), "l": lv, "i": ix},
            )
            for lv, ix in keys
        ],
    )
    report = filled.verify()
    assert not report.ok
    assert len(report.problems) == 2, report.problems  # both heads cover entry 2
    assert all("root no longer matches entries 0.." in p for p in report.problems)


def test_deleted_row_is_reported(filled: EmbeddedLedger, ledger_engine: sa.Engine) -> None:
    _as_superuser_without_triggers(ledger_engine, ("DELETE FROM audit.entries WHERE idx = 7", {}))
    report = filled.verify()
    assert not report.ok and "entry 7 missing" in report.problems


def test_deleted_last_row_is_reported(filled: EmbeddedLedger, ledger_engine: sa.Engine) -> None:
    _as_superuser_without_triggers(ledger_engine, (f"DELETE FROM audit.entries WHERE idx = {SIZE - 1}", {}))
    report = filled.verify()
    assert not report.ok and report.tree_size == SIZE - 1
    assert any(
        p.startswith(f"entry {SIZE - 1}: stored level-0 hash has no matching") for p in report.problems
    )
    assert any("beyond the log" in p for p in report.problems)


def test_swapped_rows_are_reported(filled: EmbeddedLedger, ledger_engine: sa.Engine) -> None:
    _as_superuser_without_triggers(
        ledger_engine,
        ("UPDATE audit.entries SET idx = 1000 WHERE idx = 2", {}),
        ("UPDATE audit.entries SET idx = 2 WHERE idx = 9", {}),
        ("UPDATE audit.entries SET idx = 9 WHERE idx = 1000", {}),
    )
    report = filled.verify()
    assert not report.ok
    assert _mentions(report.problems, 2) and _mentions(report.problems, 9), report.problems
    assert not _mentions(report.problems, 5)


@pytest.mark.parametrize("table", ["entries", "nodes", "tree_heads"])
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit.{t} SET idx = idx WHERE idx = 0",
        "UPDATE audit.{t} SET idx = idx WHERE false",
        "DELETE FROM audit.{t}",
        "TRUNCATE audit.{t}",
    ],
)
def test_the_database_refuses_changes(
    filled: EmbeddedLedger, ledger_engine: sa.Engine, table: str, statement: str
) -> None:
    sql = statement.format(t=table)
    if table == "tree_heads":
        sql = sql.replace("idx", "id")
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        with ledger_engine.begin() as conn:
            conn.execute(sa.text(sql))
    assert filled.size() == SIZE and filled.verify().ok


# --- rollback and fork: caught by verify() through stored heads, and by the client checkpoint even when
# --- the operator removed the stored heads as well (the ledger CLI checks both).


@pytest.fixture
def cli(fresh_database_url: str, ledger_engine: sa.Engine, tmp_path):  # noqa: ANN201
    """A ledger whose key sits where ``hms audit verify`` finds it, and that command as a function."""
    from deploy import audit_cli
    from deploy.settings import Settings
    from ledger.keys import load_or_create_signing_key

    settings = Settings(home=tmp_path / "home", database_url=fresh_database_url)
    key, key_id = load_or_create_signing_key(settings.keys_dir / "ledger-ed25519.pem")
    ledger = EmbeddedLedger(ledger_engine, key, key_id)
    return ledger, (lambda: audit_cli.verify(settings))


def _fill(ledger: EmbeddedLedger, make_event) -> None:
    ledger.append_many([make_event(n) for n in range(SIZE // 2)])
    ledger.signed_head()
    ledger.append_many([make_event(n) for n in range(SIZE // 2, SIZE)])
    ledger.signed_head()


def _roll_back_to(engine: sa.Engine, size: int, *, drop_heads: bool) -> None:
    statements = [
        ("DELETE FROM audit.entries WHERE idx >= :s", {"s": size}),
        ("DELETE FROM audit.nodes WHERE ((idx + 1) << level) > :s", {"s": size}),
    ]
    if drop_heads:
        statements.append(("DELETE FROM audit.tree_heads WHERE tree_size > :s", {"s": size}))
    _as_superuser_without_triggers(engine, *statements)


def _fork_entry(ledger: EmbeddedLedger, engine: sa.Engine, index: int, *, drop_heads: bool) -> None:
    """Rewrite one entry and every stored node consistently: a different history of the same size."""
    size = ledger.size()
    events = [ledger.get(i).event for i in range(size)]
    events[index] = AuditEvent(**{**events[index].__dict__, "actor": "attending-2"})
    leaves = [merkle.leaf_hash(e.canonical_bytes()) for e in events]
    lookup = merkle.memory_lookup(leaves)
    with engine.connect() as conn:
        keys = [(r.level, r.idx) for r in conn.execute(sa.text("SELECT level, idx FROM audit.nodes"))]
    statements = [
        ("UPDATE audit.entries SET actor = 'attending-2', canonical = :c, leaf_hash = :h WHERE idx = :i",
         {"c": events[index].canonical_bytes(), "h": leaves[index], "i": index}),
        *[("UPDATE audit.nodes SET hash = :h WHERE level = :l AND idx = :i", {"h": lookup(lv, ix), "l": lv, "i": ix})
          for lv, ix in keys],
    ]
    if drop_heads:
        statements.append(("DELETE FROM audit.tree_heads", {}))
    _as_superuser_without_triggers(engine, *statements)


@pytest.mark.parametrize("drop_heads", [False, True], ids=["heads-kept", "heads-removed"])
def test_rollback_is_detected(cli, ledger_engine: sa.Engine, make_event, tmp_path, capsys,
                              drop_heads: bool) -> None:
    from ledger.checkpoint import Checkpoint

    ledger, hms_audit_verify = cli
    _fill(ledger, make_event)
    checkpoint = Checkpoint(tmp_path / "auditor.json", ledger.public_key())
    assert checkpoint.check(ledger).ok
    assert hms_audit_verify() == 0
    _roll_back_to(ledger_engine, 8, drop_heads=drop_heads)
    report = ledger.verify()
    if drop_heads:
        assert report.ok  # the store alone is self-consistent again: only an outside head can tell
    else:
        assert not report.ok and any("beyond the log's 8 entries" in p for p in report.problems)
    result = checkpoint.check(ledger)
    assert (result.ok, result.status) == (False, "rollback")
    capsys.readouterr()
    assert hms_audit_verify() == 1
    assert "rollback" in capsys.readouterr().err
    ledger.append_many([make_event(n) for n in range(100, 110)])  # regrowing past 12 does not help
    assert checkpoint.check(ledger).status == "fork"
    assert hms_audit_verify() == 1


@pytest.mark.parametrize("drop_heads", [False, True], ids=["heads-kept", "heads-removed"])
def test_fork_is_detected(cli, ledger_engine: sa.Engine, make_event, tmp_path, capsys, drop_heads: bool) -> None:
    from ledger.checkpoint import Checkpoint

    ledger, hms_audit_verify = cli
    _fill(ledger, make_event)
    checkpoint = Checkpoint(tmp_path / "auditor.json", ledger.public_key())
    assert checkpoint.check(ledger).ok
    assert hms_audit_verify() == 0
    _fork_entry(ledger, ledger_engine, 2, drop_heads=drop_heads)
    report = ledger.verify()
    if drop_heads:
        assert report.ok
    else:
        assert not report.ok and all("root no longer matches" in p for p in report.problems)
    result = checkpoint.check(ledger)
    assert (result.ok, result.status) == (False, "fork")
    capsys.readouterr()
    assert hms_audit_verify() == 1
    assert "fork" in capsys.readouterr().err
    ledger.append(make_event(200))  # a forked log that keeps growing still fails the consistency proof
    assert checkpoint.check(ledger).status == "fork"
