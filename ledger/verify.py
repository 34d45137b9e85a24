"""Offline proof checks for external auditors: no database, no server, only what the ledger handed out.

An auditor holds the ledger's public key (obtained out of band), signed tree heads, entries' canonical
bytes and proofs, typically as JSON (``X.from_dict``). These functions answer yes or no; a "no" means
the ledger cannot back what it showed.
"""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ledger import merkle
from ledger.keys import key_id_for
from ledger.model import ConsistencyProof, InclusionProof, SignedTreeHead


def load_public_key(pem: str | bytes) -> Ed25519PublicKey:
    """Parse the ledger's PEM public key, refusing any other key type."""
    key = serialization.load_pem_public_key(pem.encode() if isinstance(pem, str) else pem)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key


def verify_head(head: SignedTreeHead, public_key: Ed25519PublicKey) -> bool:
    """The head names this key and carries its valid signature."""
    return head.key_id == key_id_for(public_key) and head.verify(public_key)


def verify_inclusion(
    entry_canonical: bytes,
    index: int,
    proof: InclusionProof,
    head: SignedTreeHead,
    public_key: Ed25519PublicKey,
) -> bool:
    """Entry bytes ``entry_canonical`` sit at ``index`` in the log the signed ``head`` commits to."""
    return (
        verify_head(head, public_key)
        and proof.leaf_index == index
        and proof.tree_size == head.tree_size
        and merkle.verify_inclusion(
            merkle.leaf_hash(entry_canonical), index, head.tree_size, proof.path, head.root_hash
        )
    )


def verify_consistency(
    proof: ConsistencyProof,
    old_head: SignedTreeHead,
    new_head: SignedTreeHead,
    public_key: Ed25519PublicKey,
) -> bool:
    """The log of ``new_head`` extends the log of ``old_head`` without rewriting any of it."""
    return (
        verify_head(old_head, public_key)
        and verify_head(new_head, public_key)
        and proof.old_size == old_head.tree_size
        and proof.new_size == new_head.tree_size
        and merkle.verify_consistency(
            old_head.tree_size, new_head.tree_size, old_head.root_hash, new_head.root_hash, proof.path
        )
    )
