"""The HMS audit ledger: an append-only, verifiable log of who touched which patient data, and why.

Backends: :class:`ledger.embedded.EmbeddedLedger` (PostgreSQL) and
:class:`ledger.immudb_backend.ImmudbLedger` (immudb); both serve :class:`ledger.base.Ledger`.
"""

from ledger.base import Ledger, LedgerConflict, LedgerError, LedgerUnavailable
from ledger.model import (
    AuditEvent,
    ConsistencyProof,
    InclusionProof,
    LedgerEntry,
    SignedTreeHead,
    VerifyReport,
)

__all__ = [
    "AuditEvent",
    "ConsistencyProof",
    "InclusionProof",
    "Ledger",
    "LedgerConflict",
    "LedgerEntry",
    "LedgerError",
    "LedgerUnavailable",
    "SignedTreeHead",
    "VerifyReport",
]
