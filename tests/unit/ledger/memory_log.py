"""A tiny in-memory log serving the parts of the Ledger protocol the checkpoint and export need."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger import merkle
from ledger.keys import key_id_for
from ledger.model import AuditEvent, ConsistencyProof, InclusionProof, LedgerEntry, SignedTreeHead


def event(n: int, actor: str = "attending-1") -> AuditEvent:
    return AuditEvent(event_id=f"evt-{n}", recorded=datetime(2026, 2, 1, tzinfo=UTC) + timedelta(minutes=n),
                      actor=actor, role="attending_physician", action="R", subtype="patient.read", outcome="0",
                      resource_type="Patient", resource_id=f"pat-{n % 3}", patient_id=f"pat-{n % 3}",
                      purpose="TREAT", decision="allow", reason="care team member")


class MemoryLog:
    def __init__(self, key: Ed25519PrivateKey | None = None) -> None:
        self.key = key or Ed25519PrivateKey.generate()
        self.events: list[AuditEvent] = []

    def append(self, e: AuditEvent) -> LedgerEntry:
        self.events.append(e)
        return self.get(len(self.events) - 1)

    def _lookup(self) -> merkle.NodeLookup:
        return merkle.memory_lookup([merkle.leaf_hash(e.canonical_bytes()) for e in self.events])

    def size(self) -> int:
        return len(self.events)

    def get(self, index: int) -> LedgerEntry:
        e = self.events[index]
        return LedgerEntry(index, e, merkle.leaf_hash(e.canonical_bytes()))

    def public_key(self):  # noqa: ANN201
        return self.key.public_key()

    def signed_head(self, tree_size: int | None = None) -> SignedTreeHead:
        size = len(self.events) if tree_size is None else tree_size
        unsigned = SignedTreeHead(size, merkle.root(size, self._lookup()), datetime.now(UTC),
                                  key_id_for(self.key.public_key()), b"")
        return SignedTreeHead(size, unsigned.root_hash, unsigned.timestamp, unsigned.key_id,
                              self.key.sign(unsigned.signed_bytes()))

    def inclusion_proof(self, index: int, tree_size: int) -> InclusionProof:
        return InclusionProof(index, tree_size, merkle.inclusion_path(index, tree_size, self._lookup()))

    def consistency_proof(self, old_size: int, new_size: int) -> ConsistencyProof:
        return ConsistencyProof(old_size, new_size, merkle.consistency_path(old_size, new_size, self._lookup()))

    def query(self, patient_id=None, actor=None, action=None, since=None, until=None,  # noqa: ANN001
              limit: int = 1000, offset: int = 0) -> list[LedgerEntry]:
        hits = [self.get(i) for i, e in enumerate(self.events)
                if (patient_id is None or e.patient_id == patient_id) and (actor is None or e.actor == actor)]
        return hits[offset:offset + limit]
