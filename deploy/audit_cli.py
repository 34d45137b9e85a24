"""``hms audit verify|query|export`` and ``hms bench audit-load``: the compliance officer's command line.

Query output names who did what to which record, when, with which outcome and why, and each entry's
inclusion proof is checked locally against a freshly signed tree head. ``verify`` recomputes the whole
log (its stored heads included) and checks a client checkpoint kept under ``$HMS_HOME/run``, so a log
rolled back or forked since the last verify is caught even if its stored heads were removed too.
"""
from __future__ import annotations

import asyncio
import random
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx

from deploy import wiring
from deploy.settings import Settings
from ledger import compliance
from ledger.base import Ledger
from ledger.checkpoint import Checkpoint


def checkpoint_path(settings: Settings) -> Path:
    return settings.run_dir / "ledger-checkpoint.json"


def verify(settings: Settings, *, checkpoint: Path | None = None) -> int:
    """Exit 0 only if the store is self-consistent AND extends the last head this client verified."""
    engine = wiring.database_engine(settings, pool_size=1)
    ledger = wiring.build_ledger(settings, engine)
    report = ledger.verify()
    check = Checkpoint(checkpoint or checkpoint_path(settings), ledger.public_key()).check(ledger)
    if report.ok and check.ok:
        head = check.current
        assert head is not None
        print(f"ledger verified: {report.tree_size} entries, root {head.root_hash.hex()} signed by key "
              f"{head.key_id}; checkpoint {check.message}")
        return 0
    problems = list(report.problems) + ([] if check.ok else [f"checkpoint: {check.message}"])
    print(f"ledger verification FAILED ({len(problems)} problem(s) in {report.tree_size} entries):", file=sys.stderr)
    for problem in problems[:50]:
        print(f"  - {problem}", file=sys.stderr)
    return 1


def _when(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise SystemExit(f"hms audit: --{name} must be an ISO-8601 time, got {value!r}") from exc
    if parsed.tzinfo is None:
        raise SystemExit(f"hms audit: --{name} needs a time zone (e.g. 2026-11-25T09:00:00Z)")
    return parsed


def _filters(patient: str | None, actor: str | None, action: str | None, since: str | None,
             until: str | None) -> compliance.Filters:
    return compliance.Filters(patient_id=patient, actor=actor, action=action, since=_when(since, "since"),
                              until=_when(until, "until"))


def query(settings: Settings, *, patient: str, actor: str | None = None, since: str | None = None,
          until: str | None = None, action: str | None = None) -> int:
    """Print the matching entries; exit 1 if any inclusion proof fails to verify locally."""
    engine = wiring.database_engine(settings, pool_size=1)
    ledger = wiring.build_ledger(settings, engine)
    result = compliance.search(ledger, _filters(patient, actor, action, since, until), limit=10_000)
    head, key = result.head, ledger.public_key()
    failures = 0
    print(f"{'index':>7}  {'time (UTC)':<26}  {'actor':<20} {'role':<20} {'what':<28} {'outcome':<8} proof")
    for proven in result.entries:
        ok = proven.verifies(head, key)
        failures += not ok
        e = proven.entry.event
        outcome = "allowed" if e.decision == "allow" else "DENIED"
        print(f"{proven.entry.index:>7}  {e.recorded.isoformat(timespec='seconds'):<26}  {e.actor:<20} {e.role:<20} "
              f"{e.subtype:<28} {outcome:<8} {'ok' if ok else 'FAILED'}")
    print(f"{len(result.entries)} entries for patient {patient}; tree head {head.tree_size} "
          f"{head.root_hash.hex()[:16]}…; {'all proofs verified' if not failures else f'{failures} proof(s) FAILED'}")
    return 1 if failures else 0


def export(settings: Settings, *, out: str, patient: str | None = None, actor: str | None = None,
           since: str | None = None, until: str | None = None, action: str | None = None) -> int:
    """Write NDJSON (header with the signed head, entries with proofs, trailer) for an external auditor."""
    engine = wiring.database_engine(settings, pool_size=1)
    ledger = wiring.build_ledger(settings, engine)
    filters = _filters(patient, actor, action, since, until)
    with open(out, "w", encoding="utf-8") as fh:
        count = compliance.write_export(ledger, fh, filters)
    key_file = Path(out).with_suffix(".pub.pem")
    key_file.write_text(compliance.public_key_pem(ledger.public_key()))
    print(f"exported {count} entries with inclusion proofs to {out}; the ledger's public key is in {key_file} "
          f"(give the auditor the key through another channel). Check with: "
          f"python -m ledger.verify_export {out} --public-key {key_file}")
    return 0


def bench_audit_load(settings: Settings, n: int = 10_000, clients: int = 50) -> str:
    """``hms bench audit-load``: n mixed requests from concurrent clients against the running stack,
    then PHI accesses the clients saw vs API entries the ledger holds: they must be equal."""
    from deploy.client import ApiClient

    engine = wiring.database_engine(settings, pool_size=2)
    ledger = wiring.build_ledger(settings, engine)
    start_size = ledger.size()
    api = ApiClient(settings, limit=clients)

    async def main() -> tuple[object, float]:
        try:
            began = time.perf_counter()
            outcome = await run_load(api._http, api.headers, clients=clients, requests=n)
            return outcome, time.perf_counter() - began
        finally:
            await api.aclose()

    outcome, elapsed = asyncio.run(main())
    assert isinstance(outcome, LoadOutcome)
    if outcome.unexpected:
        raise SystemExit(f"bench audit-load: unexpected answers {dict(outcome.unexpected)}")
    recorded, expected = outcome.recorded_since(ledger, start_size), outcome.expected
    equal = recorded == expected
    return "\n".join([
        f"| measure ({n:,} requests, {clients} clients) | project | baseline | ratio |",
        "|---|---|---|---|",
        f"| API ledger entries vs PHI accesses the clients made | {sum(recorded.values()):,} | "
        f"{sum(expected.values()):,} | {'exactly equal' if equal else 'MISMATCH'} |",
        f"| requests with no PHI touched (401/404/422; 503 before a decision: {outcome.unavailable}) adding no "
        f"entry | {outcome.untouched:,} | – | – |",
        f"| requests/s through TLS, auth, policy, ledger | {n / elapsed:,.0f} | – | – |",
    ])


# --- the mixed load: shared by ``hms bench audit-load`` and tests/integration/api/test_audit_completeness.py

Headers = Callable[[str, str], dict[str, str]]
Key = tuple[str, str, str]  # (actor, subtype, decision) of one expected ledger entry
VITALS = {"age": 54, "complaint": "shortness of breath", "respiratory_rate": 22, "spo2": 94, "spo2_scale": 1,
          "on_oxygen": False, "systolic_bp": 118, "heart_rate": 104, "consciousness": "A", "temperature": 37.9}


@dataclass
class LoadOutcome:
    """What the clients saw: one expected entry per authorized request, and what touched nothing."""

    expected: Counter[Key] = field(default_factory=Counter)
    untouched: int = 0
    unavailable: int = 0
    unexpected: Counter[str] = field(default_factory=Counter)
    actors: set[str] = field(default_factory=set)

    def record(self, actor: str, subtype: str, status: int) -> None:
        """2xx: the policy allowed and one entry was written; 403: denied, one entry; 401/404/422: none.

        503 (the workflow engine timed out answering a journey query, before any decision; or the
        ledger was down, so nothing was recorded and nothing served) must also leave no entry: the
        final comparison with the ledger checks that claim rather than assume it."""
        self.actors.add(actor)
        if 200 <= status < 300:
            self.expected[(actor, subtype, "allow")] += 1
        elif status == 403:
            self.expected[(actor, subtype, "deny")] += 1
        elif status in (401, 404, 422, 503):
            self.untouched += 1
            self.unavailable += status == 503
        else:
            self.unexpected[f"{subtype} -> {status}"] += 1

    def recorded_since(self, ledger: Ledger, start: int) -> Counter[Key]:
        """API entries of the load's actors appended at or after index ``start``."""
        found: Counter[Key] = Counter()
        offset = start
        while True:
            page = ledger.query(limit=1000, offset=offset)  # no filter: index order, gap-free
            for entry in page:
                e = entry.event
                if e.source == "api" and e.actor in self.actors:
                    found[(e.actor, e.subtype, e.decision)] += 1
            if len(page) < 1000:
                return found
            offset += 1000


async def run_load(http: httpx.AsyncClient, headers: Headers, *, clients: int, requests: int,
                   seed: int = 11) -> LoadOutcome:
    """``requests`` mixed calls from ``clients`` concurrent clients: admissions, patient reads (allowed,
    denied, unknown), task lists, journey reads, triage scores (allowed, denied), bad tokens, bad bodies."""
    from deploy.client import synthetic_admission

    out = LoadOutcome()
    patients: list[str] = []
    journeys: list[str] = []
    rng = random.Random(seed)

    async def admit(n: int) -> None:
        r = await http.post("/api/v1/admissions", json=synthetic_admission(n),
                            headers=headers("registration-1", "registration_clerk"))
        out.record("registration-1", "admission.create", r.status_code)
        if r.status_code < 300:
            patients.append(r.json()["patient_id"])
            journeys.append(r.json()["journey_id"])

    async def one(n: int, kind: float) -> None:
        pid = rng.choice(patients) if patients else uuid.uuid4().hex
        if kind < 0.10:
            await admit(n)
        elif kind < 0.25:
            r = await http.get(f"/api/v1/patients/{pid}", headers=headers("registration-1", "registration_clerk"))
            out.record("registration-1", "patient.read", r.status_code)
        elif kind < 0.35:
            r = await http.get(f"/api/v1/patients/{pid}", headers=headers("manager-1", "manager"))
            out.record("manager-1", "patient.read", r.status_code)
        elif kind < 0.40:
            r = await http.get(f"/api/v1/patients/{uuid.uuid4()}", headers=headers("attending-1", "attending_physician"))
            out.record("attending-1", "patient.read", r.status_code)
        elif kind < 0.55:
            r = await http.get("/api/v1/tasks", headers=headers("nurse-medical-1", "nurse"))
            out.record("nurse-medical-1", "task.list", r.status_code)
        elif kind < 0.65 and journeys:
            r = await http.get(f"/api/v1/journeys/{rng.choice(journeys)}",
                               headers=headers("attending-2", "attending_physician"))
            out.record("attending-2", "journey.read", r.status_code)
        elif kind < 0.78:
            r = await http.post("/api/v1/triage/score", json=VITALS, headers=headers("triage-nurse-1", "triage_nurse"))
            out.record("triage-nurse-1", "triage.score", r.status_code)
        elif kind < 0.85:
            r = await http.post("/api/v1/triage/score", json=VITALS, headers=headers("billing-1", "billing_clerk"))
            out.record("billing-1", "triage.score", r.status_code)
        elif kind < 0.93:
            r = await http.get(f"/api/v1/patients/{pid}", headers={"Authorization": "Bearer not-a-token"})
            out.record("anonymous", "patient.read", r.status_code)
        else:
            r = await http.post("/api/v1/admissions", json={"ward": "medical"},
                                headers=headers("registration-1", "registration_clerk"))
            out.record("registration-1", "admission.create", r.status_code)

    for n in range(min(3, requests)):  # a few patients first, so reads have someone to read
        await admit(n)
    plan = [(n, rng.random()) for n in range(min(3, requests), requests)]
    queue: asyncio.Queue[tuple[int, float]] = asyncio.Queue()
    for item in plan:
        queue.put_nowait(item)

    async def client() -> None:
        while not queue.empty():
            await one(*queue.get_nowait())

    await asyncio.gather(*(client() for _ in range(clients)))
    return out
