"""The one interface every audit ledger backend serves, and its errors.

Callers (the audit activity, the API's audit routes, ``hms audit``) depend on this protocol only, so
the embedded PostgreSQL log and immudb are interchangeable and pass one contract test suite.
All methods are synchronous: backends do blocking I/O and callers run them in a worker thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol, runtime_checkable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ledger.model import (
    AuditEvent,
    ConsistencyProof,
    InclusionProof,
    LedgerEntry,
    SignedTreeHead,
    VerifyReport,
)


class LedgerError(Exception):
    """A request the ledger cannot honour (bad index, bad size, corrupt data)."""


class LedgerConflict(LedgerError):
    """An event_id was appended before with different content: an idempotency key was reused."""


class LedgerUnavailable(LedgerError):
    """The ledger's store cannot be reached. Callers must fail closed: no audit, no access."""


@runtime_checkable
class Ledger(Protocol):
    """An append-only, verifiable log of :class:`AuditEvent` entries."""

    def append(self, event: AuditEvent) -> LedgerEntry:
        """Append one event; idempotent by ``event_id`` (same content returns the existing entry)."""
        ...

    def append_many(self, events: Sequence[AuditEvent]) -> list[LedgerEntry]:
        """Append events in order, atomically, with consecutive indices."""
        ...

    def size(self) -> int:
        """Number of entries in the log."""
        ...

    def get(self, index: int) -> LedgerEntry:
        """The entry at ``index``; raises :class:`LedgerError` if there is none."""
        ...

    def signed_head(self, tree_size: int | None = None) -> SignedTreeHead:
        """A signed head for ``tree_size`` (the current size when None), recorded by the ledger."""
        ...

    def inclusion_proof(self, index: int, tree_size: int) -> InclusionProof:
        """RFC 9162 proof that entry ``index`` is in the tree of ``tree_size`` entries."""
        ...

    def consistency_proof(self, old_size: int, new_size: int) -> ConsistencyProof:
        """RFC 9162 proof that the tree of ``old_size`` is a prefix of the tree of ``new_size``."""
        ...

    def query(
        self,
        patient_id: str | None = None,
        actor: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 1000,
        offset: int = 0,
    ) -> list[LedgerEntry]:
        """Entries matching every given filter, in index order; ``since`` inclusive, ``until`` exclusive."""
        ...

    def verify(self) -> VerifyReport:
        """Re-derive everything stored and report each inconsistency by index or head."""
        ...

    def public_key(self) -> Ed25519PublicKey:
        """The key that verifies this ledger's signed tree heads."""
        ...
