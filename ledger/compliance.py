"""Compliance queries with proofs: the answer to "who touched this record, when and why", checkable.

Every surface (``GET /api/v1/audit``, ``hms audit query``, ``hms audit export``, FHIR AuditEvent)
hands out entries together with an RFC 9162 inclusion proof against one signed tree head, so the
reader can check each entry is in the log the ledger signed without trusting the server.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any

from ledger import verify
from ledger.base import Ledger
from ledger.keys import public_key_pem
from ledger.model import InclusionProof, LedgerEntry, SignedTreeHead, format_ts

EXPORT_FORMAT = "hms.audit.export.v1"
PAGE = 1000


@dataclass(frozen=True)
class Filters:
    """The compliance query; ``since`` inclusive, ``until`` exclusive, both timezone-aware."""

    patient_id: str | None = None
    actor: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def to_dict(self) -> dict[str, str | None]:
        return {
            "patient": self.patient_id,
            "actor": self.actor,
            "action": self.action,
            "since": None if self.since is None else format_ts(self.since),
            "until": None if self.until is None else format_ts(self.until),
        }


@dataclass(frozen=True)
class ProvenEntry:
    """An entry and the proof that it sits at its index in the tree of the accompanying head."""

    entry: LedgerEntry
    proof: InclusionProof

    def to_dict(self) -> dict[str, Any]:
        return {**self.entry.to_dict(), "inclusion_proof": self.proof.to_dict()}

    def verifies(self, head: SignedTreeHead, key: Any) -> bool:
        return verify.verify_inclusion(self.entry.event.canonical_bytes(), self.entry.index, self.proof, head, key)


@dataclass(frozen=True)
class SearchResult:
    entries: list[ProvenEntry]
    head: SignedTreeHead
    public_key_pem: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "entries": [e.to_dict() for e in self.entries],
            "signed_head": self.head.to_dict(),
            "public_key_pem": self.public_key_pem,
        }


def inclusion_proofs(ledger: Ledger, indices: Sequence[int], tree_size: int) -> list[InclusionProof]:
    """Many proofs against one tree; one round trip when the backend offers a batched call."""
    batched = getattr(ledger, "inclusion_proofs", None)
    if batched is not None:
        return batched(list(indices), tree_size)
    return [ledger.inclusion_proof(i, tree_size) for i in indices]


def _prove(ledger: Ledger, entries: list[LedgerEntry], head: SignedTreeHead) -> list[ProvenEntry]:
    entries = [e for e in entries if e.index < head.tree_size]  # appended after the head: not provable yet
    proofs = inclusion_proofs(ledger, [e.index for e in entries], head.tree_size)
    return [ProvenEntry(e, p) for e, p in zip(entries, proofs, strict=True)]


def _page(ledger: Ledger, filters: Filters, limit: int, offset: int) -> list[LedgerEntry]:
    return ledger.query(
        patient_id=filters.patient_id,
        actor=filters.actor,
        action=filters.action,
        since=filters.since,
        until=filters.until,
        limit=limit,
        offset=offset,
    )


def search(ledger: Ledger, filters: Filters, *, limit: int = 100, offset: int = 0) -> SearchResult:
    """Matching entries (index order) with inclusion proofs against a freshly signed head."""
    head = ledger.signed_head()
    entries = _prove(ledger, _page(ledger, filters, limit, offset), head)
    return SearchResult(entries, head, public_key_pem(ledger.public_key()))


def iter_proven(ledger: Ledger, filters: Filters, head: SignedTreeHead) -> Iterator[ProvenEntry]:
    """Every matching entry inside ``head``, page by page, so an export never sits in memory."""
    offset = 0
    while True:
        page = _page(ledger, filters, PAGE, offset)
        yield from _prove(ledger, page, head)
        if len(page) < PAGE or page[-1].index >= head.tree_size:
            return
        offset += PAGE


def write_export(ledger: Ledger, out: IO[str], filters: Filters) -> int:
    """NDJSON for an external auditor: a header (format, key, head, filters), entries, a trailer.

    ``ledger/verify_export.py`` checks such a file with nothing but the ledger's public key.
    """
    head = ledger.signed_head()
    header = {
        "type": "header",
        "format": EXPORT_FORMAT,
        "public_key_pem": public_key_pem(ledger.public_key()),
        "signed_head": head.to_dict(),
        "filters": filters.to_dict(),
    }
    out.write(json.dumps(header, sort_keys=True) + "\n")
    count = 0
    for proven in iter_proven(ledger, filters, head):
        out.write(json.dumps({"type": "entry", **proven.to_dict()}, sort_keys=True, ensure_ascii=False) + "\n")
        count += 1
    out.write(json.dumps({"type": "trailer", "entries": count}) + "\n")
    return count
