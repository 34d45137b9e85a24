"""The standalone export verifier: agrees with ledger.merkle, accepts honest exports, refuses altered ones."""
from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger import merkle, verify_export
from ledger.compliance import Filters, write_export
from ledger.keys import public_key_pem
from tests.unit.ledger.memory_log import MemoryLog, event


def _export(n: int = 9, **filters: str) -> tuple[MemoryLog, list[str]]:
    log = MemoryLog()
    for i in range(n):
        log.append(event(i))
    out = io.StringIO()
    write_export(log, out, Filters(**filters))  # type: ignore[arg-type]
    return log, out.getvalue().splitlines()


def test_inclusion_check_matches_the_ledger_for_every_small_tree() -> None:
    leaves = [merkle.leaf_hash(bytes([i])) for i in range(33)]
    for size in range(1, 34):
        lookup = merkle.memory_lookup(leaves[:size])
        root = merkle.root(size, lookup)
        for index in range(size):
            path = merkle.inclusion_path(index, size, lookup)
            assert verify_export.inclusion_ok(leaves[index], index, size, path, root)
            assert not verify_export.inclusion_ok(leaves[(index + 1) % 33], index, size, path, root) or size == 1
            if path:
                assert not verify_export.inclusion_ok(leaves[index], index, size, path[:-1], root)


def test_an_honest_export_verifies() -> None:
    log, lines = _export(9, patient_id="pat-1")
    count, problems = verify_export.verify_lines(lines, log.public_key())
    assert problems == [] and count == 3
    header = json.loads(lines[0])
    assert header["signed_head"]["tree_size"] == 9 and header["filters"]["patient"] == "pat-1"


def test_altered_exports_are_refused() -> None:
    log, lines = _export(9)
    key = log.public_key()
    record = json.loads(lines[4])
    record["event"]["actor"] = "someone-else"
    changed = [*lines[:4], json.dumps(record), *lines[5:]]
    assert any("entry 3: leaf hash" in p for p in verify_export.verify_lines(changed, key)[1])
    record = json.loads(lines[4])
    record["event"]["actor"], record["leaf_hash"] = "someone-else", verify_export.leaf_hash(
        verify_export._canonical({**record["event"], "actor": "someone-else"})).hex()
    forged = [*lines[:4], json.dumps(record), *lines[5:]]
    assert any("entry 3: inclusion proof" in p for p in verify_export.verify_lines(forged, key)[1])
    assert any("truncated" in p for p in verify_export.verify_lines(lines[:-1], key)[1])
    assert any("trailer" in p for p in verify_export.verify_lines([*lines[:3], lines[-1]], key)[1])
    swapped = [lines[0], lines[2], lines[1], *lines[3:]]
    assert any("out of order" in p for p in verify_export.verify_lines(swapped, key)[1])
    other = Ed25519PrivateKey.generate().public_key()
    assert any("signed tree head" in p for p in verify_export.verify_lines(lines, other)[1])


def test_runs_as_a_module_with_only_a_pem_file(tmp_path: Path) -> None:
    log, lines = _export(5)
    export, pem = tmp_path / "audit.ndjson", tmp_path / "ledger.pem"
    export.write_text("\n".join(lines) + "\n")
    pem.write_text(public_key_pem(log.public_key()))
    ok = subprocess.run([sys.executable, "-m", "ledger.verify_export", str(export), "--public-key", str(pem)],
                        capture_output=True, text=True)
    assert ok.returncode == 0 and "5 entries" in ok.stdout
    export.write_text("\n".join(lines[:-1]) + "\n")
    bad = subprocess.run([sys.executable, "-m", "ledger.verify_export", str(export), "--public-key", str(pem)],
                         capture_output=True, text=True)
    assert bad.returncode == 1 and "truncated" in bad.stderr
    # The verifier file stands alone: it imports nothing of the project.
    source = Path(verify_export.__file__).read_text()
    assert "from ledger" not in source and "import ledger" not in source
