"""The policy decision interface every API route calls before touching data.

``decide(input) -> Decision``: the input document is described in
``policies/README.md``; the decision's reason goes into the audit ledger. Every
engine fails closed: an engine error is a denial whose reason starts with
``policy engine unavailable:``, never an exception and never an allow.
"""
from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

UNAVAILABLE = "policy engine unavailable: "
MALFORMED = "malformed input: "


@dataclass(frozen=True)
class Decision:
    """An access decision: whether, why (for the ledger), and under which policy version."""

    allow: bool
    reason: str
    policy_version: str


@runtime_checkable
class PolicyEngine(Protocol):
    """Anything that can decide a request; both backends pass one contract suite."""

    def decide(self, input: Mapping[str, Any]) -> Decision:  # noqa: A002 - the OPA term
        """Decide one request; never raises, never allows on error."""
        ...


def unavailable(cause: str, policy_version: str) -> Decision:
    """The fail-closed denial for an engine error (``cause`` is short and holds no request data)."""
    return Decision(False, UNAVAILABLE + cause, policy_version)


def _json_default(value: Any) -> Any:
    # Timestamps in context are usually datetimes in the app; Rego wants RFC 3339 strings.
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (set, frozenset, tuple)):
        return sorted(value) if isinstance(value, (set, frozenset)) else list(value)
    raise TypeError(type(value).__name__)


def to_input_document(input: Any) -> dict[str, Any]:  # noqa: A002
    """The request as a plain JSON object; raises ``ValueError`` when it cannot be one.

    Datetimes become ISO 8601 strings (give them a timezone: a naive one never
    matches a break-glass expiry), UUIDs strings, sets sorted lists.
    """
    if not isinstance(input, Mapping):
        raise ValueError("input must be an object")
    try:
        return json.loads(json.dumps(dict(input), default=_json_default, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"input is not JSON-serialisable ({exc})") from None


def decision_from_result(result: Any, policy_version: str) -> Decision:
    """Validate the policy's ``{"allow": bool, "reason": str}``; anything else denies."""
    if result is None:
        return unavailable("decision undefined", policy_version)
    if not isinstance(result, Mapping):
        return unavailable("malformed decision", policy_version)
    allow, reason = result.get("allow"), result.get("reason")
    if not isinstance(allow, bool) or not isinstance(reason, str):
        return unavailable("malformed decision", policy_version)
    return Decision(allow, reason, policy_version)


def build_engine(opa_url: str | None) -> PolicyEngine:
    """The OPA-server engine when ``opa_url`` is given (``HMS_OPA_URL``), else the embedded one."""
    if opa_url:
        from policies.opa_server import OpaServerPolicyEngine

        return OpaServerPolicyEngine(opa_url)
    from policies.embedded import EmbeddedPolicyEngine

    return EmbeddedPolicyEngine()
