"""Behaviour specific to the embedded PostgreSQL backend: concurrency, availability, persistence, keys."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger import verify
from ledger.base import LedgerUnavailable
from ledger.embedded import EmbeddedLedger, install_schema
from ledger.keys import key_id_for, load_or_create_signing_key

pytestmark = pytest.mark.integration


def test_concurrent_appends_are_gap_free_and_verify(embedded_ledger: EmbeddedLedger, make_event) -> None:
    threads, per_thread = 8, 50
    errors: list[BaseException] = []
    seen: list[list[int]] = [[] for _ in range(threads)]
    barrier = threading.Barrier(threads)

    def worker(t: int) -> None:
        try:
            barrier.wait()
            for n in range(per_thread):
                seen[t].append(embedded_ledger.append(make_event(t * 1000 + n, actor=f"user-{t}")).index)
        except BaseException as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)

    pool = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    for th in pool:
        th.start()
    for th in pool:
        th.join()
    assert errors == []
    total = threads * per_thread
    assert sorted(i for s in seen for i in s) == list(range(total))
    assert all(s == sorted(s) for s in seen)  # each thread's own appends keep their order
    assert embedded_ledger.size() == total
    embedded_ledger.signed_head()
    report = embedded_ledger.verify()
    assert report.ok, report.problems
    assert report.tree_size == total


def test_unreachable_database_raises_ledger_unavailable(signing_key: Ed25519PrivateKey, make_event) -> None:
    engine = sa.create_engine(
        "postgresql+psycopg://nobody@127.0.0.1:1/none", connect_args={"connect_timeout": 2}
    )
    ledger = EmbeddedLedger(engine, signing_key, key_id_for(signing_key.public_key()))
    with pytest.raises(LedgerUnavailable):
        ledger.append(make_event(1))
    with pytest.raises(LedgerUnavailable):
        ledger.verify()


def test_install_schema_is_idempotent_and_log_survives_restart(
    ledger_engine: sa.Engine, tmp_path: Path, make_event
) -> None:
    key, key_id = load_or_create_signing_key(tmp_path / "ledger.pem")
    first = EmbeddedLedger(ledger_engine, key, key_id)
    entries = first.append_many([make_event(n) for n in range(6)])
    head = first.signed_head()
    with ledger_engine.begin() as conn:
        install_schema(conn)
    key2, key_id2 = load_or_create_signing_key(tmp_path / "ledger.pem")
    assert key_id2 == key_id
    second = EmbeddedLedger(ledger_engine, key2, key_id2)
    assert second.size() == 6 and [second.get(i) for i in range(6)] == entries
    assert second.signed_head() == head
    assert verify.verify_head(head, second.public_key())
    assert second.verify().ok


def test_heads_of_a_retired_key_need_that_key_to_be_trusted(
    embedded_ledger: EmbeddedLedger, ledger_engine: sa.Engine, signing_key: Ed25519PrivateKey, make_event
) -> None:
    embedded_ledger.append(make_event(1))
    embedded_ledger.signed_head()
    new_key = Ed25519PrivateKey.generate()
    rotated = EmbeddedLedger(ledger_engine, new_key, key_id_for(new_key.public_key()))
    report = rotated.verify()
    assert not report.ok and any("unknown key" in p for p in report.problems)
    old_id = key_id_for(signing_key.public_key())
    trusting = EmbeddedLedger(
        ledger_engine,
        new_key,
        key_id_for(new_key.public_key()),
        trusted_keys={old_id: signing_key.public_key()},
    )
    assert trusting.verify().ok
    assert trusting.signed_head().key_id != old_id  # new heads use the new key
