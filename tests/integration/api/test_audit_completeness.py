"""Completeness under load: every access the clients made is in the ledger exactly once, nothing else is.

20 concurrent clients make ~300 mixed requests (admissions, patient reads allowed, denied and unknown,
task lists, journey reads, triage scores allowed and denied, bad tokens, malformed bodies). Each 2xx or
403 answer means the policy decided and one entry was due; 401/404/422 answers touched nothing and
must add nothing. ``hms bench audit-load`` runs the same mix at 50 clients × 10,000 requests.
"""
from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from deploy.audit_cli import run_load
from ledger.embedded import EmbeddedLedger

pytestmark = pytest.mark.integration


async def test_ledger_entries_equal_accesses_under_concurrent_load(
    api: httpx.AsyncClient, auth: Callable[..., dict[str, str]], ledger: EmbeddedLedger
) -> None:
    start = ledger.size()
    outcome = await run_load(api, auth, clients=20, requests=300)
    assert not outcome.unexpected, outcome.unexpected
    recorded = outcome.recorded_since(ledger, start)
    assert recorded == outcome.expected
    assert sum(recorded.values()) + outcome.untouched == 300
    # The mix really exercised each kind of answer.
    decisions = {d for (_, _, d) in recorded}
    assert decisions == {"allow", "deny"}
    assert outcome.untouched > 0 and ("anonymous", "patient.read", "deny") not in recorded
    assert {s for (_, s, _) in recorded} >= {"admission.create", "patient.read", "task.list", "triage.score"}
    ledger.signed_head()
    assert ledger.verify().ok
