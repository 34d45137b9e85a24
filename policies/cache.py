"""A decision cache in front of any policy engine: the same request gets the same answer, once evaluated.

A decision is a pure function of the input document and the bundle (policy and data), and the
API builds the input fresh on every request from the current state (role, care teams, ward,
consent per purpose, labels, break-glass grant). So a cached decision for an identical input
is the decision the engine would give again; a change of any of that state is a different
input and misses. Clinical traffic repeats itself (the same clinician reading the same
patient's vitals, tasks and notes many times an hour), which is what the cache serves.

``context.now`` is the one field that differs on every request. The bundle reads it only to
check a break-glass grant's expiry (``tests/unit/policies/test_cache.py`` pins that: a static
check of the Rego sources and a check that decisions without a grant ignore it), so the key
leaves it out when ``context.break_glass`` is null; requests under a grant are never cached.

Engine failures (``policy engine unavailable: ...``) are never cached, entries live at most
``ttl_seconds`` (which bounds how long a changed OPA bundle can be shadowed) and are keyed by
the engine's policy version. The cache is bounded (LRU) and thread-safe.
"""
from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

from policies.engine import MALFORMED, UNAVAILABLE, Decision, PolicyEngine, to_input_document


class CachingPolicyEngine:
    """``PolicyEngine`` that memoises ``inner``'s decisions per canonical input document."""

    def __init__(self, inner: PolicyEngine, *, max_entries: int = 65536, ttl_seconds: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if max_entries < 1 or ttl_seconds <= 0:
            raise ValueError("max_entries must be ≥ 1 and ttl_seconds > 0")
        self.inner, self.max_entries, self.ttl = inner, max_entries, ttl_seconds
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, Decision]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def __getattr__(self, name: str) -> Any:
        # policy_version, healthy, error, ... of the engine behind the cache
        return getattr(self.inner, name)

    def decide(self, input: Mapping[str, Any]) -> Decision:  # noqa: A002
        try:
            key = cache_key(input)
        except ValueError as exc:
            return Decision(False, MALFORMED + str(exc), str(getattr(self.inner, "policy_version", "unknown")))
        now = self._clock()
        if key is not None and (hit := self._live(key, now)) is not None:
            return hit
        decision = self.inner.decide(input)
        if key is None or decision.reason.startswith(UNAVAILABLE):
            return decision
        with self._lock:
            self.misses += 1
            self._entries[key] = (now + self.ttl, decision)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return decision

    def peek(self, input: Mapping[str, Any]) -> Decision | None:  # noqa: A002
        """The cached decision of this input if there is a live one (never evaluates: safe on an event loop)."""
        try:
            key = cache_key(input)
        except ValueError:
            return None
        return None if key is None else self._live(key, self._clock())

    def _live(self, key: str, now: float) -> Decision | None:
        """The entry's decision while it is fresh (counted as a hit), else None."""
        with self._lock:
            found = self._entries.get(key)
            if found is None or found[0] <= now:
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return found[1]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


def cache_key(input: Mapping[str, Any]) -> str | None:  # noqa: A002
    """The canonical JSON of the input without ``context.now``; None when the decision depends on time.

    Raises ``ValueError`` for input that is not a JSON object (the engine would deny it as malformed).
    """
    document = to_input_document(input)
    context = document.get("context")
    if isinstance(context, dict):
        if context.get("break_glass") is not None:
            return None
        context = {k: v for k, v in context.items() if k != "now"}
        document["context"] = context
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
