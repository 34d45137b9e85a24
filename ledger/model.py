"""Value objects of the audit ledger.

An :class:`AuditEvent` mirrors the FHIR AuditEvent resource in miniature: who (actor, role), did what
(action, subtype), to which resource (resource_type, resource_id, patient_id), why (purpose), what the
policy decided and with what outcome. It carries identifiers and hashes only, never clinical content,
because the ledger is immutable: whatever lands here can never be erased.

Its canonical serialisation is the Merkle leaf data, so it must be byte-for-byte stable across
processes, versions and backends: sorted keys, compact separators, UTF-8, and a fixed timestamp format.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

ACTIONS = frozenset({"C", "R", "U", "D", "E"})
OUTCOMES = frozenset({"0", "4", "8", "12"})
DECISIONS = frozenset({"allow", "deny"})
_TS_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def format_ts(value: datetime) -> str:
    """ISO-8601 UTC with microseconds; the one textual form of time in signed or hashed bytes."""
    if value.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return value.astimezone(UTC).strftime(_TS_FORMAT)


def parse_ts(value: str) -> datetime:
    """Inverse of :func:`format_ts`; strict so that a second spelling of one instant cannot appear."""
    return datetime.strptime(value, _TS_FORMAT).replace(tzinfo=UTC)


def _canonical_json(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


@dataclass(frozen=True)
class AuditEvent:
    """One touch of patient data (or of the system) as the audit trail records it."""

    event_id: str
    recorded: datetime
    actor: str
    role: str
    action: str  # FHIR AuditEvent action: C/R/U/D/E
    subtype: str  # e.g. "admission.create", "patient.read"
    outcome: str  # FHIR outcome: "0" success, "4" minor failure (e.g. denied), "8" serious, "12" major
    resource_type: str
    resource_id: str | None
    patient_id: str | None
    purpose: str | None  # purpose of use, e.g. TREAT, HPAYMT, ETREAT
    decision: str  # "allow" | "deny"
    reason: str  # the policy's reason
    source: str = "api"
    break_glass: bool = False
    detail_hash: str | None = None

    def __post_init__(self) -> None:
        if not self.event_id:
            raise ValueError("event_id is required")
        if self.recorded.tzinfo is None:
            raise ValueError("recorded must be timezone-aware")
        # Normalised to UTC so that equal instants compare and serialise equal.
        object.__setattr__(self, "recorded", self.recorded.astimezone(UTC))
        if self.action not in ACTIONS:
            raise ValueError(f"action must be one of {sorted(ACTIONS)}")
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {sorted(OUTCOMES)}")
        if self.decision not in DECISIONS:
            raise ValueError(f"decision must be one of {sorted(DECISIONS)}")
        if not isinstance(self.break_glass, bool):
            raise ValueError("break_glass must be a bool")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; the same mapping is hashed, so it holds every field."""
        # Every field is an immutable scalar, so no deep copy (``asdict``) is needed: appends call this
        # once per event and it sits on the ledger's hot path.
        data = {name: getattr(self, name) for name in _EVENT_FIELDS}
        data["recorded"] = format_ts(self.recorded)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AuditEvent:
        """Rebuild an event, refusing unknown or missing keys so a changed schema is noticed."""
        names = {f.name for f in fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown audit event fields: {sorted(unknown)}")
        values = dict(data)
        values["recorded"] = parse_ts(values["recorded"])
        return cls(**values)

    def canonical_bytes(self) -> bytes:
        """The Merkle leaf data: sorted-key compact JSON in UTF-8."""
        return _canonical_json(self.to_dict())

    @classmethod
    def from_canonical(cls, data: bytes) -> AuditEvent:
        """Parse leaf data back into an event; raises ValueError if it is not canonical."""
        event = cls.from_dict(json.loads(data.decode("utf-8")))
        if event.canonical_bytes() != data:
            raise ValueError("bytes are not in canonical form")
        return event


_EVENT_FIELDS = tuple(f.name for f in fields(AuditEvent))


@dataclass(frozen=True)
class LedgerEntry:
    """An event at its position in the log, with the leaf hash that commits to it."""

    index: int
    event: AuditEvent
    leaf_hash: bytes

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "event": self.event.to_dict(), "leaf_hash": self.leaf_hash.hex()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LedgerEntry:
        return cls(int(data["index"]), AuditEvent.from_dict(data["event"]), bytes.fromhex(data["leaf_hash"]))


@dataclass(frozen=True)
class SignedTreeHead:
    """The ledger's signed statement "the log had tree_size entries with this root at this time"."""

    tree_size: int
    root_hash: bytes
    timestamp: datetime
    key_id: str
    signature: bytes = field(repr=False)

    def signed_bytes(self) -> bytes:
        """Domain-separated bytes under the signature, so a head can't be replayed as anything else."""
        return _canonical_json(
            {
                "key_id": self.key_id,
                "root_hash": self.root_hash.hex(),
                "timestamp": format_ts(self.timestamp),
                "tree_size": self.tree_size,
                "type": "hms.audit.sth.v1",
            }
        )

    def verify(self, public_key: Ed25519PublicKey) -> bool:
        """True only if the signature over :meth:`signed_bytes` is valid for this key."""
        try:
            public_key.verify(self.signature, self.signed_bytes())
        except InvalidSignature:
            return False
        return True

    def to_dict(self) -> dict[str, Any]:
        return {
            "tree_size": self.tree_size,
            "root_hash": self.root_hash.hex(),
            "timestamp": format_ts(self.timestamp),
            "key_id": self.key_id,
            "signature": self.signature.hex(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SignedTreeHead:
        return cls(
            int(data["tree_size"]),
            bytes.fromhex(data["root_hash"]),
            parse_ts(data["timestamp"]),
            data["key_id"],
            bytes.fromhex(data["signature"]),
        )


@dataclass(frozen=True)
class InclusionProof:
    """RFC 9162 §2.1.3 audit path: leaf ``leaf_index`` is in the tree of ``tree_size`` leaves."""

    leaf_index: int
    tree_size: int
    path: list[bytes]

    def to_dict(self) -> dict[str, Any]:
        return {
            "leaf_index": self.leaf_index,
            "tree_size": self.tree_size,
            "path": [h.hex() for h in self.path],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InclusionProof:
        return cls(int(data["leaf_index"]), int(data["tree_size"]), [bytes.fromhex(h) for h in data["path"]])


@dataclass(frozen=True)
class ConsistencyProof:
    """RFC 9162 §2.1.4 proof that the tree of ``old_size`` is a prefix of the tree of ``new_size``."""

    old_size: int
    new_size: int
    path: list[bytes]

    def to_dict(self) -> dict[str, Any]:
        return {"old_size": self.old_size, "new_size": self.new_size, "path": [h.hex() for h in self.path]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ConsistencyProof:
        return cls(int(data["old_size"]), int(data["new_size"]), [bytes.fromhex(h) for h in data["path"]])


@dataclass(frozen=True)
class VerifyReport:
    """Outcome of a full ledger audit; ``problems`` name the entries or heads that failed."""

    ok: bool
    tree_size: int
    problems: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "tree_size": self.tree_size, "problems": list(self.problems)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VerifyReport:
        return cls(bool(data["ok"]), int(data["tree_size"]), list(data["problems"]))
