"""Policy decisions and ledger appends are counted and timed by decorators that keep each interface."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from prometheus_client import REGISTRY

from deploy.settings import Settings
from deploy.telemetry.metered import MeteredLedger, MeteredPolicyEngine
from ledger.base import Ledger, LedgerUnavailable
from policies.cache import CachingPolicyEngine
from policies.engine import UNAVAILABLE, Decision, PolicyEngine


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


class Engine:
    """Allows reads, denies everything else, is unavailable for ``action == "boom"``."""

    policy_version = "v-test"

    def decide(self, input: Mapping[str, Any]) -> Decision:  # noqa: A002
        if input.get("action") == "boom":
            return Decision(False, UNAVAILABLE + "down", self.policy_version)
        return Decision(input.get("action") == "read", "because", self.policy_version)


def test_decisions_are_counted_by_result_and_timed() -> None:
    engine = MeteredPolicyEngine(Engine())
    before = {r: sample("hms_policy_decisions_total", result=r) for r in ("allow", "deny", "unavailable")}
    seconds = sample("hms_policy_decision_seconds_count")
    assert engine.decide({"action": "read"}).allow
    assert not engine.decide({"action": "update"}).allow
    assert not engine.decide({"action": "boom"}).allow
    for result in ("allow", "deny", "unavailable"):
        assert sample("hms_policy_decisions_total", result=result) == before[result] + 1
    assert sample("hms_policy_decision_seconds_count") == seconds + 3
    assert isinstance(engine, PolicyEngine) and engine.policy_version == "v-test"


def test_peek_exists_only_over_a_cache_and_its_hits_count() -> None:
    assert getattr(MeteredPolicyEngine(Engine()), "peek", None) is None  # api.access then goes to decide
    engine = MeteredPolicyEngine(CachingPolicyEngine(Engine()))
    request = {"action": "read", "subject": {"id": "u"}}
    assert engine.peek(request) is None
    engine.decide(request)
    before = sample("hms_policy_decisions_total", result="allow")
    assert engine.peek(request).allow
    assert sample("hms_policy_decisions_total", result="allow") == before + 1
    assert engine.hits == 1 and engine.misses == 1  # the cache's own attributes pass through


class FakeLedger:
    def __init__(self) -> None:
        self.entries: list[Any] = []
        self.down = False

    def append(self, event: Any) -> Any:
        if self.down:
            raise LedgerUnavailable("store unreachable")
        self.entries.append(event)
        return len(self.entries) - 1

    def append_many(self, events: Sequence[Any]) -> list[Any]:
        return [self.append(e) for e in events]

    def size(self) -> int:
        return len(self.entries)

    def get(self, index: int) -> Any:
        return self.entries[index]

    def signed_head(self, tree_size: int | None = None) -> Any:
        return ("head", tree_size)

    def inclusion_proof(self, index: int, tree_size: int) -> Any:
        return ("inclusion", index, tree_size)

    def consistency_proof(self, old_size: int, new_size: int) -> Any:
        return ("consistency", old_size, new_size)

    def query(self, *args: Any, **kwargs: Any) -> list[Any]:
        return list(self.entries)

    def verify(self) -> Any:
        return "ok"

    def public_key(self) -> Any:
        return "key"

    extra = "backend-specific"


def test_appends_are_counted_timed_and_failures_counted_by_error_class() -> None:
    inner = FakeLedger()
    ledger = MeteredLedger(inner)  # type: ignore[arg-type]
    one = sample("hms_ledger_appended_events_total", operation="append")
    many = sample("hms_ledger_appended_events_total", operation="append_many")
    timed = sample("hms_ledger_append_seconds_count", operation="append")
    failed = sample("hms_ledger_append_failures_total", operation="append", error="LedgerUnavailable")
    ledger.append("e1")
    ledger.append_many(["e2", "e3", "e4"])
    inner.down = True
    with pytest.raises(LedgerUnavailable):
        ledger.append("e5")
    assert sample("hms_ledger_appended_events_total", operation="append") == one + 1
    assert sample("hms_ledger_appended_events_total", operation="append_many") == many + 3
    assert sample("hms_ledger_append_seconds_count", operation="append") == timed + 2
    assert sample("hms_ledger_append_failures_total", operation="append", error="LedgerUnavailable") == failed + 1


def test_reads_pass_through_and_the_protocol_holds() -> None:
    inner = FakeLedger()
    ledger = MeteredLedger(inner)  # type: ignore[arg-type]
    ledger.append("e1")
    assert isinstance(ledger, Ledger)
    assert (ledger.size(), ledger.get(0), ledger.signed_head(1), ledger.inclusion_proof(0, 1),
            ledger.consistency_proof(1, 1), ledger.query(patient_id="p"), ledger.verify(), ledger.public_key(),
            ledger.extra) == (1, "e1", ("head", 1), ("inclusion", 0, 1), ("consistency", 1, 1), ["e1"], "ok",
                              "key", "backend-specific")


def test_wiring_meters_the_policy_engine_it_builds() -> None:
    from deploy import wiring

    cached = wiring.build_policy(Settings())
    assert isinstance(cached, MeteredPolicyEngine) and isinstance(cached.inner, CachingPolicyEngine)
    plain = wiring.build_policy(Settings(policy_cache_ttl=0))
    assert isinstance(plain, MeteredPolicyEngine) and getattr(plain, "peek", None) is None
