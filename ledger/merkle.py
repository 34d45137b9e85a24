"""RFC 9162 (Certificate Transparency v2) Merkle tree hashing and proofs.

Everything here is a pure function. Storage is reached through a :data:`NodeLookup` that returns the
hash of a *perfect* subtree — ``(level, idx)`` covers leaves ``[idx << level, (idx + 1) << level)`` —
so a backend that stores those hashes answers roots and proofs with O(log n) lookups. Because the
algorithms' control flow never depends on hash values, :func:`required_nodes` can dry-run any of them
to learn which nodes it will ask for, letting a database fetch them all in one query.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Sequence

NodeLookup = Callable[[int, int], bytes]
NodeKey = tuple[int, int]

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    """MTH({d}) = SHA-256(0x00 || d); the prefix keeps leaves and nodes from being confused."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly smaller than n (n > 1), where RFC 9162 splits a tree."""
    return 1 << ((n - 1).bit_length() - 1)


def range_hash(start: int, end: int, lookup: NodeLookup) -> bytes:
    """MTH of leaves [start, end), composed from perfect subtrees as RFC 9162 §2.1.1 defines it."""
    n = end - start
    if n <= 0:
        raise ValueError("empty range")
    if n & (n - 1) == 0 and start % n == 0:
        level = n.bit_length() - 1
        return lookup(level, start >> level)
    k = _split(n)
    return node_hash(range_hash(start, start + k, lookup), range_hash(start + k, end, lookup))


def root(size: int, lookup: NodeLookup) -> bytes:
    """Root hash of the first ``size`` leaves; the empty tree hashes to SHA-256("")."""
    if size < 0:
        raise ValueError("negative tree size")
    return EMPTY_ROOT if size == 0 else range_hash(0, size, lookup)


def inclusion_path(index: int, size: int, lookup: NodeLookup) -> list[bytes]:
    """PATH(m, D[n]) of RFC 9162 §2.1.3.1, leaf-side first."""
    if not 0 <= index < size:
        raise ValueError("index out of range for tree size")
    path: list[bytes] = []
    start, end, m = 0, size, index
    while end - start > 1:
        k = _split(end - start)
        if m < k:
            path.append(range_hash(start + k, end, lookup))
            end = start + k
        else:
            path.append(range_hash(start, start + k, lookup))
            start, m = start + k, m - k
    path.reverse()
    return path


def consistency_path(old_size: int, new_size: int, lookup: NodeLookup) -> list[bytes]:
    """PROOF(m, D[n]) = SUBPROOF(m, D[n], true) of RFC 9162 §2.1.4.1; empty when m is 0 or n."""
    if not 0 <= old_size <= new_size:
        raise ValueError("need 0 <= old_size <= new_size")
    if old_size in (0, new_size):
        return []
    path: list[bytes] = []
    start, end, m, complete = 0, new_size, old_size, True
    while m != end - start:
        k = _split(end - start)
        if m <= k:
            path.append(range_hash(start + k, end, lookup))
            end = start + k
        else:
            path.append(range_hash(start, start + k, lookup))
            start, m, complete = start + k, m - k, False
    if not complete:
        path.append(range_hash(start, end, lookup))
    path.reverse()
    return path


def verify_inclusion(leaf: bytes, index: int, size: int, path: Sequence[bytes], root_hash: bytes) -> bool:
    """RFC 9162 §2.1.3.2: does ``path`` prove ``leaf`` at ``index`` in the tree with ``root_hash``?"""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and hmac.compare_digest(r, root_hash)


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, path: Sequence[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2, extended to the trivial cases: equal sizes, or an empty old tree."""
    if not 0 <= old_size <= new_size:
        return False
    if old_size == new_size:
        return not path and hmac.compare_digest(old_root, new_root)
    if old_size == 0:
        return not path and hmac.compare_digest(old_root, EMPTY_ROOT)
    if not path:
        return False
    nodes = list(path)
    if old_size & (old_size - 1) == 0:
        nodes.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = nodes[0]
    for c in nodes[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and hmac.compare_digest(fr, old_root) and hmac.compare_digest(sr, new_root)


def append_siblings(index: int) -> list[NodeKey]:
    """Stored nodes needed to complete the perfect subtrees that appending leaf ``index`` closes."""
    keys: list[NodeKey] = []
    level, idx = 0, index
    while idx & 1:
        keys.append((level, idx - 1))
        level, idx = level + 1, idx >> 1
    return keys


def append_nodes(index: int, leaf: bytes, lookup: NodeLookup) -> list[tuple[int, int, bytes]]:
    """Every perfect-subtree node ``(level, idx, hash)`` that exists once leaf ``index`` is appended."""
    out = [(0, index, leaf)]
    level, idx, current = 0, index, leaf
    while idx & 1:
        current = node_hash(lookup(level, idx - 1), current)
        level, idx = level + 1, idx >> 1
        out.append((level, idx, current))
    return out


def required_nodes(fn: Callable[..., object], *args: int) -> set[NodeKey]:
    """Dry-run ``fn(*args, lookup)`` and collect the node keys it looks up."""
    wanted: set[NodeKey] = set()

    def record(level: int, idx: int) -> bytes:
        wanted.add((level, idx))
        return EMPTY_ROOT

    fn(*args, record)
    return wanted


def memory_lookup(leaves: Sequence[bytes]) -> NodeLookup:
    """A lookup over leaf hashes held in memory, for small trees, tests and offline auditors."""
    levels: list[list[bytes]] = [list(leaves)]
    while len(levels[-1]) > 1:
        below = levels[-1]
        levels.append([node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)])

    def lookup(level: int, idx: int) -> bytes:
        return levels[level][idx]

    return lookup
