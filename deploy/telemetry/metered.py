"""Prometheus metrics for the policy engine and the audit ledger, as decorators of their interfaces.

``deploy.wiring`` wraps what it builds, so the API and the workers count the same way whatever the
backend (embedded or OPA server; PostgreSQL Merkle log or immudb). Labels are closed sets (result,
operation, error class): never a user, patient or resource id.
"""
from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from prometheus_client import Counter, Histogram

from ledger.base import Ledger
from ledger.model import (
    AuditEvent,
    ConsistencyProof,
    InclusionProof,
    LedgerEntry,
    SignedTreeHead,
    VerifyReport,
)
from policies.engine import UNAVAILABLE, Decision, PolicyEngine

_FAST = (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)

POLICY_DECISIONS = Counter("hms_policy_decisions", "Policy decisions by result (allow, deny, unavailable)",
                           ["result"])
POLICY_SECONDS = Histogram("hms_policy_decision_seconds", "Time to decide one request (cache hits included)",
                           buckets=_FAST)
LEDGER_EVENTS = Counter("hms_ledger_appended_events", "Audit events appended to the ledger", ["operation"])
LEDGER_SECONDS = Histogram("hms_ledger_append_seconds", "Time of one ledger append call", ["operation"],
                           buckets=_FAST[4:] + (2.5, 5.0))
LEDGER_FAILURES = Counter("hms_ledger_append_failures", "Ledger append calls that raised", ["operation", "error"])


def _result(decision: Decision) -> str:
    if decision.allow:
        return "allow"
    return "unavailable" if decision.reason.startswith(UNAVAILABLE) else "deny"


class MeteredPolicyEngine:
    """A ``PolicyEngine`` that counts and times ``inner``'s decisions (and its cache's ``peek`` hits)."""

    def __init__(self, inner: PolicyEngine) -> None:
        self.inner = inner
        if callable(getattr(inner, "peek", None)):
            self.peek = self._peek  # only engines with a cache offer peek (api.access looks for it)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)  # policy_version, healthy, clear, hits, ...

    def decide(self, input: Mapping[str, Any]) -> Decision:  # noqa: A002
        start = time.perf_counter()
        decision = self.inner.decide(input)
        POLICY_SECONDS.observe(time.perf_counter() - start)
        POLICY_DECISIONS.labels(_result(decision)).inc()
        return decision

    def _peek(self, input: Mapping[str, Any]) -> Decision | None:  # noqa: A002
        start = time.perf_counter()
        decision = self.inner.peek(input)  # type: ignore[attr-defined]
        if decision is not None:
            POLICY_SECONDS.observe(time.perf_counter() - start)
            POLICY_DECISIONS.labels(_result(decision)).inc()
        return decision


class MeteredLedger:
    """A ``Ledger`` that counts, times and counts failures of ``inner``'s appends; reads pass straight through."""

    def __init__(self, inner: Ledger) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)  # backend extras (close, publisher, ...)

    def _timed(self, operation: str, call: Any, count: int) -> Any:
        start = time.perf_counter()
        try:
            result = call()
        except Exception as exc:
            LEDGER_FAILURES.labels(operation, type(exc).__name__).inc()
            raise
        finally:
            LEDGER_SECONDS.labels(operation).observe(time.perf_counter() - start)
        LEDGER_EVENTS.labels(operation).inc(count)
        return result

    def append(self, event: AuditEvent) -> LedgerEntry:
        return self._timed("append", lambda: self.inner.append(event), 1)

    def append_many(self, events: Sequence[AuditEvent]) -> list[LedgerEntry]:
        return self._timed("append_many", lambda: self.inner.append_many(events), len(events))

    def size(self) -> int:
        return self.inner.size()

    def get(self, index: int) -> LedgerEntry:
        return self.inner.get(index)

    def signed_head(self, tree_size: int | None = None) -> SignedTreeHead:
        return self.inner.signed_head(tree_size)

    def inclusion_proof(self, index: int, tree_size: int) -> InclusionProof:
        return self.inner.inclusion_proof(index, tree_size)

    def consistency_proof(self, old_size: int, new_size: int) -> ConsistencyProof:
        return self.inner.consistency_proof(old_size, new_size)

    def query(self, patient_id: str | None = None, actor: str | None = None, action: str | None = None,
              since: datetime | None = None, until: datetime | None = None, limit: int = 1000,
              offset: int = 0) -> list[LedgerEntry]:
        return self.inner.query(patient_id, actor, action, since, until, limit, offset)

    def verify(self) -> VerifyReport:
        return self.inner.verify()

    def public_key(self) -> Any:
        return self.inner.public_key()
