"""Check an HMS audit export with nothing of the server: Python's standard library and ``cryptography``.

    python -m ledger.verify_export audit.ndjson --public-key ledger-public.pem

(or copy this one file anywhere and run ``python verify_export.py ...``). The public key must come
from the hospital out of band, never from the export itself. Checked: the signed tree head's Ed25519
signature and key id; every entry's leaf hash recomputed from the event as shown (canonical JSON);
every RFC 9162 inclusion proof against the head's root; strictly increasing, unique indices; the
trailer's count. Exit status 0 only if everything holds. An inclusion proof shows each entry is in
the signed log; it cannot show that no *other* matching entry was left out of a filtered export.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import sys
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

FORMAT = "hms.audit.export.v1"


def _canonical(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def inclusion_ok(leaf: bytes, index: int, size: int, path: list[bytes], root: bytes) -> bool:
    """RFC 9162 section 2.1.3.2."""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and hmac.compare_digest(r, root)


def key_id(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def head_ok(head: dict[str, Any], key: Ed25519PublicKey) -> bool:
    """The head names this key and its signature over the domain-separated head bytes is valid."""
    signed = _canonical({"key_id": head["key_id"], "root_hash": head["root_hash"], "timestamp": head["timestamp"],
                         "tree_size": head["tree_size"], "type": "hms.audit.sth.v1"})
    try:
        key.verify(bytes.fromhex(head["signature"]), signed)
    except InvalidSignature:
        return False
    return head["key_id"] == key_id(key)


def verify_lines(lines: list[str], key: Ed25519PublicKey) -> tuple[int, list[str]]:
    """(entries checked, problems) for the NDJSON lines of one export."""
    records = [json.loads(line) for line in lines if line.strip()]
    if not records or records[0].get("type") != "header" or records[0].get("format") != FORMAT:
        return 0, [f"not an {FORMAT} export (missing header)"]
    head = records[0]["signed_head"]
    problems = [] if head_ok(head, key) else ["signed tree head: signature or key id does not verify"]
    root, size = bytes.fromhex(head["root_hash"]), int(head["tree_size"])
    last, count = -1, 0
    for record in records[1:]:
        if record.get("type") == "trailer":
            if record.get("entries") != count:
                problems.append(f"trailer says {record.get('entries')} entries, the file holds {count}")
            break
        count += 1
        index = int(record["index"])
        leaf = leaf_hash(_canonical(record["event"]))
        path = [bytes.fromhex(h) for h in record["inclusion_proof"]["path"]]
        if index <= last:
            problems.append(f"entry {index}: out of order or duplicated")
        last = max(last, index)
        if leaf.hex() != record["leaf_hash"]:
            problems.append(f"entry {index}: leaf hash does not match the event as shown")
        proof = record["inclusion_proof"]
        if (int(proof["leaf_index"]), int(proof["tree_size"])) != (index, size) or not inclusion_ok(
            leaf, index, size, path, root
        ):
            problems.append(f"entry {index}: inclusion proof does not verify against the signed head")
    else:
        problems.append("no trailer: the export is truncated")
    return count, problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Verify an HMS audit ledger export offline.")
    parser.add_argument("export", help="the NDJSON file written by `hms audit export`")
    parser.add_argument("--public-key", required=True, help="the ledger's Ed25519 public key (PEM file)")
    args = parser.parse_args(argv)
    with open(args.public_key, "rb") as fh:
        key = serialization.load_pem_public_key(fh.read())
    if not isinstance(key, Ed25519PublicKey):
        print("the public key is not an Ed25519 key", file=sys.stderr)
        return 2
    with open(args.export, encoding="utf-8") as fh:
        count, problems = verify_lines(fh.readlines(), key)
    if problems:
        print(f"export verification FAILED ({len(problems)} problem(s)):", file=sys.stderr)
        for problem in problems[:50]:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    print(f"export verified: {count} entries, each proven in the signed log (key {key_id(key)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
