"""Backend-independent audit of a stored log, fed by streams so a large log never sits in memory.

A backend streams its entries, its stored perfect-subtree nodes level by level and its signed heads;
these functions say what is wrong, naming entry indices so an investigator knows where to look.
Each level is checked against the *stored* level below it, so tampering is reported at the lowest
level it touched instead of cascading up to the root.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, fields

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ledger import merkle
from ledger.base import LedgerError
from ledger.model import AuditEvent, SignedTreeHead, format_ts

MAX_PROBLEMS = 1000


@dataclass(frozen=True)
class StoredEntry:
    """One stored entry as the backend holds it; ``columns`` is None if the backend has no columns."""

    index: int
    canonical: bytes
    leaf_hash: bytes
    columns: AuditEvent | None = None


def _span_of(first: int, end: int) -> str:
    return f"entry {first}" if end - first == 1 else f"entries {first}..{end - 1}"


def _span(level: int, idx: int) -> str:
    return _span_of(idx << level, (idx + 1) << level)


class EntryChecker:
    """Checks entries as they stream past and yields their recomputed leaf hashes for level 0."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        self.size = 0  # highest index seen + 1

    def leaves(self, rows: Iterable[StoredEntry]) -> Iterator[tuple[int, bytes]]:
        """Check each entry against its canonical bytes and index continuity, yielding (index, leaf)."""
        problems = self.problems
        for row in rows:
            if row.index > self.size:
                first, last = self.size, row.index - 1
                problems.append(f"{_span_of(first, last + 1)} missing")
            elif row.index < self.size:
                problems.append(f"entry {row.index} out of order or duplicated")
            self.size = max(self.size, row.index + 1)
            recomputed = merkle.leaf_hash(row.canonical)
            if recomputed != row.leaf_hash:
                problems.append(f"entry {row.index}: leaf hash does not match its canonical bytes")
            self._check_event(row)
            yield row.index, recomputed

    def _check_event(self, row: StoredEntry) -> None:
        try:
            event = AuditEvent.from_canonical(row.canonical)
        except (ValueError, KeyError, TypeError) as exc:
            self.problems.append(
                f"entry {row.index}: canonical bytes are not a canonical audit event ({exc})"
            )
            return
        if row.columns is not None and row.columns != event:
            changed = [
                f.name for f in fields(AuditEvent) if getattr(row.columns, f.name) != getattr(event, f.name)
            ]
            self.problems.append(
                f"entry {row.index}: stored columns differ from canonical bytes ({', '.join(changed)})"
            )


def _pairs(children: Iterable[tuple[int, bytes]]) -> Iterator[tuple[int, bytes]]:
    """Parent hashes derivable from sibling pairs present in a sorted child level."""
    left: tuple[int, bytes] | None = None
    for idx, h in children:
        if idx % 2 == 0:
            left = (idx, h)
        elif left is not None and left[0] == idx - 1:
            yield idx >> 1, merkle.node_hash(left[1], h)
            left = None


def compare_level(
    level: int, derived: Iterable[tuple[int, bytes]], stored: Iterable[tuple[int, bytes]], problems: list[str]
) -> int:
    """Merge-compare derived and stored hashes of one level (both sorted); returns stored count."""
    d_iter, s_iter = iter(derived), iter(stored)
    d, s = next(d_iter, None), next(s_iter, None)
    count = 0
    while d is not None or s is not None:
        if s is not None and (d is None or s[0] < d[0]):
            count += 1
            problems.append(f"{_span(level, s[0])}: stored level-{level} hash has no matching entries")
            s = next(s_iter, None)
        elif d is not None and (s is None or d[0] < s[0]):
            problems.append(f"{_span(level, d[0])}: level-{level} hash missing from storage")
            d = next(d_iter, None)
        else:
            assert d is not None and s is not None
            count += 1
            if d[1] != s[1]:
                problems.append(f"{_span(level, s[0])}: stored level-{level} hash does not match")
            d, s = next(d_iter, None), next(s_iter, None)
    return count


def check_tree(
    leaves: Iterable[tuple[int, bytes]],
    stored_level: Callable[[int], Iterable[tuple[int, bytes]]],
    problems: list[str],
) -> None:
    """Check stored level 0 against recomputed leaves, and each higher level against the one below."""
    if compare_level(0, leaves, stored_level(0), problems) == 0:
        return
    level = 1
    while True:
        derived = _pairs(stored_level(level - 1))
        if compare_level(level, derived, stored_level(level), problems) == 0:
            break
        level += 1


def check_heads(
    heads: Iterable[SignedTreeHead],
    size: int,
    keys: Mapping[str, Ed25519PublicKey],
    root_at: Callable[[int], bytes],
    problems: list[str],
) -> None:
    """Each stored head must carry a valid signature and match the log as it is now."""
    for head in heads:
        name = f"signed head of size {head.tree_size} at {format_ts(head.timestamp)}"
        key = keys.get(head.key_id)
        if key is None:
            problems.append(f"{name}: signed by unknown key {head.key_id}")
        elif not head.verify(key):
            problems.append(f"{name}: signature does not verify")
        if head.tree_size > size:
            problems.append(
                f"{name}: beyond the log's {size} entries ({_span_of(size, head.tree_size)} gone)"
            )
            continue
        try:
            current = root_at(head.tree_size)
        except (LookupError, LedgerError):
            problems.append(f"{name}: the log lacks the nodes to recompute its root")
            continue
        if current != head.root_hash:
            problems.append(f"{name}: root no longer matches entries 0..{head.tree_size - 1}")


def finish(problems: list[str]) -> list[str]:
    """Cap the report so a wholesale rewrite does not produce an unbounded answer."""
    if len(problems) <= MAX_PROBLEMS:
        return problems
    return [*problems[:MAX_PROBLEMS], f"... and {len(problems) - MAX_PROBLEMS} more problems"]
