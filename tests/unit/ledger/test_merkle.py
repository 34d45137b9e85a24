"""RFC 9162 hashing and proofs, checked three ways: the Certificate Transparency reference vectors,
pymerkle's independent RFC 9162 tree, and a literal transliteration of the RFC's recursive definitions."""

from __future__ import annotations

import hashlib

import pytest
from pymerkle import InclusionProof as PymerkleInclusion
from pymerkle import InmemoryTree

from ledger import merkle

# Inputs and expected values of the Certificate Transparency reference test data (RFC 6962/9162 hashing).
CT_LEAVES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
CT_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
CT_INCLUSION = [  # (0-based index, size, path)
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]
CT_CONSISTENCY = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]
MAX = 70


def _data(i: int) -> bytes:
    return f"entry-{i}".encode()


def _ref_mth(leaves: list[bytes]) -> bytes:
    """MTH exactly as RFC 9162 §2.1.1 writes it."""
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return merkle.leaf_hash(leaves[0])
    k = 1 << ((n - 1).bit_length() - 1)
    return merkle.node_hash(_ref_mth(leaves[:k]), _ref_mth(leaves[k:]))


def _ref_path(m: int, leaves: list[bytes]) -> list[bytes]:
    n = len(leaves)
    if n == 1:
        return []
    k = 1 << ((n - 1).bit_length() - 1)
    if m < k:
        return _ref_path(m, leaves[:k]) + [_ref_mth(leaves[k:])]
    return _ref_path(m - k, leaves[k:]) + [_ref_mth(leaves[:k])]


def _ref_subproof(m: int, leaves: list[bytes], b: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if b else [_ref_mth(leaves)]
    k = 1 << ((n - 1).bit_length() - 1)
    if m <= k:
        return _ref_subproof(m, leaves[:k], b) + [_ref_mth(leaves[k:])]
    return _ref_subproof(m - k, leaves[k:], False) + [_ref_mth(leaves[:k])]


@pytest.fixture(scope="module")
def big() -> tuple[list[bytes], merkle.NodeLookup, InmemoryTree]:
    data = [_data(i) for i in range(MAX)]
    tree = InmemoryTree(algorithm="sha256")
    for d in data:
        tree.append_entry(d)
    return data, merkle.memory_lookup([merkle.leaf_hash(d) for d in data]), tree


def test_ct_reference_roots() -> None:
    lookup = merkle.memory_lookup([merkle.leaf_hash(d) for d in CT_LEAVES])
    assert merkle.EMPTY_ROOT.hex() == CT_ROOTS[0]
    for size in range(len(CT_LEAVES) + 1):
        assert merkle.root(size, lookup).hex() == CT_ROOTS[size]


@pytest.mark.parametrize(("index", "size", "expected"), CT_INCLUSION)
def test_ct_reference_inclusion(index: int, size: int, expected: list[str]) -> None:
    leaves = [merkle.leaf_hash(d) for d in CT_LEAVES]
    path = merkle.inclusion_path(index, size, merkle.memory_lookup(leaves))
    assert [p.hex() for p in path] == expected
    assert merkle.verify_inclusion(leaves[index], index, size, path, bytes.fromhex(CT_ROOTS[size]))


@pytest.mark.parametrize(("old", "new", "expected"), CT_CONSISTENCY)
def test_ct_reference_consistency(old: int, new: int, expected: list[str]) -> None:
    lookup = merkle.memory_lookup([merkle.leaf_hash(d) for d in CT_LEAVES])
    path = merkle.consistency_path(old, new, lookup)
    assert [p.hex() for p in path] == expected
    assert merkle.verify_consistency(
        old, new, bytes.fromhex(CT_ROOTS[old]), bytes.fromhex(CT_ROOTS[new]), path
    )


def test_roots_match_pymerkle_and_the_rfc_definition(big) -> None:
    data, lookup, tree = big
    for size in range(1, MAX + 1):
        expected = tree.get_root(size)
        assert merkle.root(size, lookup) == expected
        assert _ref_mth(data[:size]) == expected


def test_inclusion_proofs_for_every_index_and_size(big) -> None:
    data, lookup, tree = big
    checked = 0
    for size in range(1, MAX + 1):
        root = tree.get_root(size)
        for index in range(size):
            path = merkle.inclusion_path(index, size, lookup)
            assert path == _ref_path(index, data[:size])
            theirs = tree.prove_inclusion(index + 1, size)  # pymerkle counts from one
            assert theirs.path[1:] == path  # its path is [leaf, siblings...]
            leaf = merkle.leaf_hash(data[index])
            assert merkle.verify_inclusion(leaf, index, size, path, root)
            # pymerkle accepts our path too, rebuilt into its own proof object.
            PymerkleInclusion("sha256", True, size, index + 1, theirs.rule, [leaf, *path]).verify(leaf, root)
            checked += 1
    assert checked == MAX * (MAX + 1) // 2


def test_consistency_proofs_for_every_size_pair(big) -> None:
    data, lookup, tree = big
    roots = [merkle.EMPTY_ROOT] + [tree.get_root(s) for s in range(1, MAX + 1)]
    for new in range(1, MAX + 1):
        for old in range(0, new + 1):
            path = merkle.consistency_path(old, new, lookup)
            if 0 < old < new:
                assert path == _ref_subproof(old, data[:new], True)
                tree.prove_consistency(old, new).verify(roots[old], roots[new])  # pymerkle agrees on roots
            assert merkle.verify_consistency(old, new, roots[old], roots[new], path)


def _flip(h: bytes) -> bytes:
    return bytes([h[0] ^ 1]) + h[1:]


def test_tampered_inclusion_proofs_are_rejected(big) -> None:
    data, lookup, tree = big
    for size in (1, 2, 5, 8, 13, 64, 70):
        root = tree.get_root(size)
        for index in range(size):
            leaf = merkle.leaf_hash(data[index])
            path = merkle.inclusion_path(index, size, lookup)
            assert not merkle.verify_inclusion(_flip(leaf), index, size, path, root)
            assert not merkle.verify_inclusion(leaf, index, size, path, _flip(root))
            for i in range(len(path)):
                bad = list(path)
                bad[i] = _flip(bad[i])
                assert not merkle.verify_inclusion(leaf, index, size, bad, root)
            assert not merkle.verify_inclusion(leaf, index, size, [*path, root], root)
            if path:
                assert not merkle.verify_inclusion(leaf, index, size, path[:-1], root)
            if size > 1:
                other = (index + 1) % size
                assert not merkle.verify_inclusion(leaf, other, size, path, root)


def test_tampered_consistency_proofs_are_rejected(big) -> None:
    data, lookup, tree = big
    roots = [merkle.EMPTY_ROOT] + [tree.get_root(s) for s in range(1, MAX + 1)]
    for new in (2, 7, 8, 31, 70):
        for old in range(1, new):
            path = merkle.consistency_path(old, new, lookup)
            assert not merkle.verify_consistency(old, new, _flip(roots[old]), roots[new], path)
            assert not merkle.verify_consistency(old, new, roots[old], _flip(roots[new]), path)
            assert not merkle.verify_consistency(old, new, roots[old], roots[new], [])
            for i in range(len(path)):
                bad = list(path)
                bad[i] = _flip(bad[i])
                assert not merkle.verify_consistency(old, new, roots[old], roots[new], bad)
            assert not merkle.verify_consistency(old, new, roots[old], roots[new], path[:-1])
    assert not merkle.verify_consistency(3, 3, roots[3], roots[4], [])
    assert not merkle.verify_consistency(0, 3, _flip(merkle.EMPTY_ROOT), roots[3], [])


def test_append_nodes_build_the_same_tree_incrementally(big) -> None:
    data, lookup, _ = big
    stored: dict[tuple[int, int], bytes] = {}
    for i, d in enumerate(data):
        need = merkle.append_siblings(i)
        assert all(k in stored for k in need)
        for level, idx, h in merkle.append_nodes(i, merkle.leaf_hash(d), lambda lv, ix: stored[(lv, ix)]):
            stored[(level, idx)] = h
    assert all(stored[k] == lookup(*k) for k in stored)
    assert len(stored) == 2 * MAX - bin(MAX).count("1")  # every perfect subtree, no more
    assert merkle.root(MAX, lambda lv, ix: stored[(lv, ix)]) == merkle.root(MAX, lookup)


def test_required_nodes_is_logarithmic_and_sufficient(big) -> None:
    _, lookup, _ = big
    keys = merkle.required_nodes(merkle.inclusion_path, 37, 70)
    assert len(keys) <= 2 * 7
    subset = {k: lookup(*k) for k in keys}
    assert merkle.inclusion_path(37, 70, lambda lv, ix: subset[(lv, ix)]) == merkle.inclusion_path(
        37, 70, lookup
    )


def test_out_of_range_arguments_raise() -> None:
    lookup = merkle.memory_lookup([merkle.leaf_hash(b"a")])
    with pytest.raises(ValueError):
        merkle.inclusion_path(1, 1, lookup)
    with pytest.raises(ValueError):
        merkle.consistency_path(2, 1, lookup)
    assert not merkle.verify_inclusion(merkle.leaf_hash(b"a"), 1, 1, [], merkle.root(1, lookup))
