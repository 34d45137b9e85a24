"""``hms audit verify`` and ``hms audit query``: the compliance officer's command line.

Query output names who did what to which record, when, with which outcome and why,
and each entry's inclusion proof is checked locally against a freshly signed tree head.
"""
from __future__ import annotations

import sys
from datetime import datetime

from deploy import wiring
from deploy.settings import Settings
from ledger.verify import verify_inclusion


def verify(settings: Settings) -> int:
    engine = wiring.database_engine(settings, pool_size=1)
    ledger = wiring.build_ledger(settings, engine)
    report = ledger.verify()
    if report.ok:
        head = ledger.signed_head()
        print(f"ledger verified: {report.tree_size} entries, root {head.root_hash.hex()} signed by key {head.key_id}")
        return 0
    print(f"ledger verification FAILED ({len(report.problems)} problem(s) in {report.tree_size} entries):",
          file=sys.stderr)
    for problem in report.problems[:50]:
        print(f"  - {problem}", file=sys.stderr)
    return 1


def _when(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise SystemExit(f"hms audit query: --{name} must be an ISO-8601 time, got {value!r}") from exc
    if parsed.tzinfo is None:
        raise SystemExit(f"hms audit query: --{name} needs a time zone (e.g. 2026-11-25T09:00:00Z)")
    return parsed


def query(settings: Settings, *, patient: str, actor: str | None = None, since: str | None = None,
          until: str | None = None, action: str | None = None) -> int:
    engine = wiring.database_engine(settings, pool_size=1)
    ledger = wiring.build_ledger(settings, engine)
    entries = ledger.query(patient_id=patient, actor=actor, action=action, since=_when(since, "since"),
                           until=_when(until, "until"), limit=10_000)
    head = ledger.signed_head()
    public_key = ledger.public_key()
    failures = 0
    print(f"{'index':>7}  {'time (UTC)':<26}  {'actor':<20} {'role':<20} {'what':<28} {'outcome':<8} proof")
    for entry in entries:
        proof = ledger.inclusion_proof(entry.index, head.tree_size)
        ok = verify_inclusion(entry.event.canonical_bytes(), entry.index, proof, head, public_key)
        failures += not ok
        e = entry.event
        outcome = "allowed" if e.decision == "allow" else "DENIED"
        print(f"{entry.index:>7}  {e.recorded.isoformat(timespec='seconds'):<26}  {e.actor:<20} {e.role:<20} "
              f"{e.subtype:<28} {outcome:<8} {'ok' if ok else 'FAILED'}")
    print(f"{len(entries)} entries for patient {patient}; tree head {head.tree_size} {head.root_hash.hex()[:16]}…; "
          f"{'all proofs verified' if not failures else f'{failures} proof(s) FAILED'}")
    return 1 if failures else 0
