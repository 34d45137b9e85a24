"""The new protocol-level surfaces (checkpoint, publisher, compliance search, export) over the immudb
backend's logic, with the in-memory stand-in client; the real server runs them in the contract suite."""
from __future__ import annotations

import io
from pathlib import Path

from ledger import compliance, verify, verify_export
from ledger.checkpoint import Checkpoint
from ledger.immudb_backend import ImmudbLedger
from ledger.publisher import HeadPublisher
from tests.unit.ledger.test_immudb_logic import _event, ledger  # noqa: F401 - the fixture

__all__ = ["ledger"]


def test_checkpoint_publisher_search_and_export(ledger: ImmudbLedger, tmp_path: Path) -> None:  # noqa: F811
    checkpoint = Checkpoint(tmp_path / "cp.json", ledger.public_key())
    assert checkpoint.check(ledger).status == "first"
    ledger.append_many([_event(n) for n in range(6)])
    assert checkpoint.check(ledger).status == "extended"
    publisher = HeadPublisher(ledger, interval=3600)
    assert publisher.publish_once().tree_size == 6  # type: ignore[union-attr]
    assert publisher.publish_once() is None
    result = compliance.search(ledger, compliance.Filters(), limit=4)
    key = verify.load_public_key(result.public_key_pem)
    assert [p.entry.index for p in result.entries] == [0, 1, 2, 3]
    assert all(p.verifies(result.head, key) for p in result.entries)
    out = io.StringIO()
    assert compliance.write_export(ledger, out, compliance.Filters()) == 6
    assert verify_export.verify_lines(out.getvalue().splitlines(), key) == (6, [])
