"""The client checkpoint over an in-memory log: honest growth passes, rollback and fork do not."""
from __future__ import annotations

import json
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.checkpoint import Checkpoint
from tests.unit.ledger.memory_log import MemoryLog, event


def _grown(n: int) -> MemoryLog:
    log = MemoryLog()
    for i in range(n):
        log.append(event(i))
    return log


def test_honest_growth_moves_the_checkpoint(tmp_path: Path) -> None:
    log = _grown(5)
    cp = Checkpoint(tmp_path / "cp.json", log.public_key())
    assert cp.load() is None
    first = cp.check(log)
    assert (first.ok, first.status) == (True, "first") and cp.load().tree_size == 5  # type: ignore[union-attr]
    assert cp.check(log).status == "unchanged"
    for i in range(5, 13):
        log.append(event(i))
    grown = cp.check(log)
    assert (grown.ok, grown.status) == (True, "extended") and cp.load().tree_size == 13  # type: ignore[union-attr]
    assert json.loads((tmp_path / "cp.json").read_text())["head"]["tree_size"] == 13


def test_rollback_is_detected_and_the_checkpoint_kept(tmp_path: Path) -> None:
    log = _grown(12)
    cp = Checkpoint(tmp_path / "cp.json", log.public_key())
    cp.check(log)
    del log.events[8:]
    result = cp.check(log)
    assert (result.ok, result.status) == (False, "rollback") and "12" in result.message
    for i in range(8, 20):  # growing past the old size again does not hide the rewrite
        log.append(event(100 + i))
    assert cp.check(log).status == "fork"
    assert cp.load().tree_size == 12  # type: ignore[union-attr]


def test_fork_of_the_same_size_is_detected(tmp_path: Path) -> None:
    log = _grown(12)
    cp = Checkpoint(tmp_path / "cp.json", log.public_key())
    cp.check(log)
    log.events[3] = event(3, actor="attending-2")
    assert cp.check(log).status == "fork"
    log.events[3] = event(3)
    assert cp.check(log).ok


def test_heads_of_another_key_are_refused(tmp_path: Path) -> None:
    log = _grown(3)
    cp = Checkpoint(tmp_path / "cp.json", Ed25519PrivateKey.generate().public_key())
    result = cp.check(log)
    assert (result.ok, result.status) == (False, "bad-head") and cp.load() is None
