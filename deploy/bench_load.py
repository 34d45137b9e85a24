"""``hms bench load``: 50 concurrent API clients for minutes, every answer as expected, every access audited.

The clients (one ``httpx.AsyncClient`` each, TLS 1.3 with the stack's CA) run a ward's mix for
``-n`` seconds (default 180): the attending on the care team reads patients, journeys, their
inbox, FHIR Patient reads and searches; the ward nurse lists the inbox; the triage nurse scores
vitals; the compliance officer searches the ledger; the registration clerk admits a few patients.
Every answer must have the status its call expects (zero errors). The baseline is the same mix
from one client, run first in the same benchmark: the ratio is p99 latency under 50 clients over
p99 with one, i.e. what contention adds at the tail. Goal: p99 ≤ 1 s under 50 clients.

Audit completeness is then checked exactly: each call that touches patient data records one
ledger entry per access (``api.access``), so the entries the ledger holds for the load's window,
by actor and patient (``GET /api/v1/audit?actor=&since=&until=``, source ``api``), must equal the
calls the clients counted. ``hms audit verify`` must exit 0 afterwards. Patients admitted for the
run are discharged again (not timed).
"""
from __future__ import annotations

import asyncio
import random
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from deploy.audit_cli import VITALS
from deploy.bench import BENCH_WARDS, _free_beds
from deploy.bench_security import _percentile
from deploy.client import ApiClient, synthetic_admission, tls_context
from deploy.settings import Settings

CLIENTS = 50
DURATION_S = 180.0
BASELINE_S = 20.0
P99_GOAL_MS = 1000.0
PATIENTS = 6
ADMISSIONS = 4
ATTENDING = "attending_physician"
Access = tuple[str, str | None]  # (actor, patient) of one expected ledger entry


@dataclass
class Run:
    """What the clients saw: latencies, unexpected answers, and the accesses they made."""

    latencies_ms: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    accesses: Counter[Access] = field(default_factory=Counter)
    admitted: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    def p(self, q: float) -> float:
        return _percentile(self.latencies_ms, q) if self.latencies_ms else float("nan")


@dataclass(frozen=True)
class Patient:
    patient_id: str
    journey_id: str
    attending: str


async def _call(http: httpx.AsyncClient, api: ApiClient, run: Run, user: str, role: str, method: str, path: str,
                expect: int, patient: str | None, **kwargs: Any) -> httpx.Response | None:
    t0 = time.perf_counter()
    try:
        r = await http.request(method, path, headers=api.headers(user, role), **kwargs)
    except httpx.HTTPError as exc:
        run.errors[f"{method} {path.split('?')[0][:40]} → {type(exc).__name__}"] += 1
        return None
    run.latencies_ms.append((time.perf_counter() - t0) * 1000)
    if r.status_code != expect:
        run.errors[f"{method} {path.split('/')[3] if path.count('/') > 2 else path} → {r.status_code}"] += 1
        return None
    run.accesses[(user, patient)] += 1
    return r


async def _one(http: httpx.AsyncClient, api: ApiClient, run: Run, rng: random.Random, patients: list[Patient],
               admit_to: list[str]) -> None:
    """One call of the mix (weights roughly those of a ward's working day)."""
    p = rng.choice(patients)
    kind = rng.random()
    if kind < 0.20:
        await _call(http, api, run, p.attending, ATTENDING, "GET", f"/api/v1/patients/{p.patient_id}", 200, p.patient_id)
    elif kind < 0.35:
        await _call(http, api, run, p.attending, ATTENDING, "GET", f"/api/v1/journeys/{p.journey_id}", 200, p.patient_id)
    elif kind < 0.45:
        await _call(http, api, run, "nurse-medical-1", "nurse", "GET", "/api/v1/tasks", 200, None)
    elif kind < 0.52:
        await _call(http, api, run, p.attending, ATTENDING, "GET", "/api/v1/tasks", 200, p.patient_id,
                    params={"patient": p.patient_id})
    elif kind < 0.64:
        await _call(http, api, run, "triage-nurse-1", "triage_nurse", "POST", "/api/v1/triage/score", 200, None,
                    json=VITALS)
    elif kind < 0.76:
        await _call(http, api, run, p.attending, ATTENDING, "GET", f"/fhir/r4/Patient/{p.patient_id}", 200,
                    p.patient_id)
    elif kind < 0.88:
        await _call(http, api, run, p.attending, ATTENDING, "GET", "/fhir/r4/Patient", 200, p.patient_id,
                    params={"_id": p.patient_id})
    elif kind < 0.98 or not admit_to:
        await _call(http, api, run, "compliance-1", "compliance_officer", "GET", "/api/v1/audit", 200, p.patient_id,
                    params={"patient": p.patient_id, "limit": 20})
    else:
        body = synthetic_admission(rng.randrange(10**6), ward=admit_to.pop())
        r = await http.post("/api/v1/admissions", json=body, headers=api.headers("registration-1", "registration_clerk"))
        if r.status_code != 202:
            run.errors[f"POST admissions → {r.status_code}"] += 1
            return
        run.accesses[("registration-1", r.json()["patient_id"])] += 1
        run.admitted.append(r.json())


async def drive(settings: Settings, api: ApiClient, patients: list[Patient], *, clients: int, seconds: float,
                admit_to: list[str], seed: int = 20261126) -> Run:
    """``clients`` concurrent clients, each on its own connection, running the mix for ``seconds``;
    ``admit_to`` names a free bed's ward for each admission the mix may make."""
    run, left = Run(), list(admit_to)
    deadline = time.perf_counter() + seconds

    async def client(n: int) -> None:
        rng = random.Random(seed * 1000 + n)
        async with httpx.AsyncClient(base_url=settings.api_base_url, verify=tls_context(settings), timeout=60,
                                     limits=httpx.Limits(max_connections=1)) as http:
            while time.perf_counter() < deadline:
                await _one(http, api, run, rng, patients, left)

    t0 = time.perf_counter()
    await asyncio.gather(*(client(n) for n in range(clients)))
    run.seconds = time.perf_counter() - t0
    return run


async def ledger_accesses(api: ApiClient, actors: set[str], since: datetime, until: datetime) -> Counter[Access]:
    """API ledger entries in [since, until) by (actor, patient), from the compliance officer's search."""
    found: Counter[Access] = Counter()
    for actor in sorted(actors):
        offset = 0
        while True:
            body = await api.call("GET", "/api/v1/audit", "compliance-1", "compliance_officer", params={
                "actor": actor, "since": since.isoformat(), "until": until.isoformat(), "limit": 1000,
                "offset": offset})
            for item in body["entries"]:
                event = item["event"]
                if event.get("source") == "api":
                    found[(event["actor"], event.get("patient_id"))] += 1
            if len(body["entries"]) < 1000:
                break
            offset += 1000
    return found


async def admit_patients(api: ApiClient, wards: list[str]) -> list[Patient]:
    """One patient per ward given (team A's wards), each with the attending of their care team."""
    started = [await api.admit(i, ward=ward) for i, ward in enumerate(wards)]
    out = []
    for s in started:
        journey = await api.wait_stage(s["journey_id"], "attending-1", ("admitted",))
        out.append(Patient(s["patient_id"], s["journey_id"], journey["attending"]))
    return out


async def discharge_all(api: ApiClient, journeys: list[tuple[str, str]]) -> None:
    """Free the beds the run took, so the benchmarks after this one find them (best effort)."""
    for journey_id, attending in journeys:
        try:
            j = await api.wait_stage(journey_id, attending, ("admitted",), timeout=120)
            if j["stage"] == "admitted":
                await api.discharge(journey_id, j["attending"])
        except (TimeoutError, httpx.HTTPError) as exc:
            print(f"bench load: journey {journey_id} not discharged ({type(exc).__name__})", file=sys.stderr)


@dataclass
class LoadReport:
    clients: int
    load: Run
    baseline: Run
    expected: Counter[Access]
    recorded: Counter[Access]
    verify_status: int

    @property
    def ok(self) -> bool:
        return not self.load.errors and not self.baseline.errors and self.expected == self.recorded \
            and self.verify_status == 0

    def table(self) -> str:
        load, base = self.load, self.baseline
        ratio = load.p(0.99) / base.p(0.99)
        met = load.p(0.99) <= P99_GOAL_MS
        n_errors = sum(load.errors.values()) + sum(base.errors.values())
        exact = self.expected == self.recorded
        lines = [
            f"| measure ({self.clients} clients for {load.seconds:.0f} s vs 1 client for {base.seconds:.0f} s, same mix) "
            "| project | baseline | ratio |",
            "|---|---|---|---|",
            f"| API latency p99 ms under {self.clients} concurrent clients vs 1 client (patients, journeys, inbox, "
            f"triage score, FHIR read/search, audit search, admissions) | {load.p(0.99):.0f} | {base.p(0.99):.0f} "
            f"| {ratio:.2f} (goal p99 ≤ {P99_GOAL_MS:.0f} ms: {'met' if met else 'NOT met'}) |",
            f"| API latency p50 / p95 ms | {load.p(0.5):.0f} / {load.p(0.95):.0f} | {base.p(0.5):.0f} / {base.p(0.95):.0f} | |",
            f"| requests/s | {len(load.latencies_ms) / load.seconds:.0f} | {len(base.latencies_ms) / base.seconds:.0f} "
            f"| {len(load.latencies_ms) / load.seconds / (len(base.latencies_ms) / base.seconds):.2f} |",
            f"| errors (any answer other than the expected status) | {n_errors} | 0 | "
            f"{'none' if not n_errors else 'ERRORS'} (goal zero errors: {'met' if not n_errors else 'NOT met'}) |",
            f"| ledger entries vs accesses made, by (actor, patient), {len(self.expected)} pairs "
            f"| {sum(self.recorded.values())} | {sum(self.expected.values())} | "
            f"{'exactly equal' if exact else 'MISMATCH'} (goal equal: {'met' if exact else 'NOT met'}) |",
            f"| `hms audit verify` exit status | {self.verify_status} | 0 "
            f"| {'ok' if not self.verify_status else 'FAILED'} (goal exit 0: {'NOT met' if self.verify_status else 'met'}) |",
        ]
        for what, count in sorted((load.errors + base.errors).items()):
            lines.append(f"error: {what} × {count}")
        for key in sorted(set(self.expected) | set(self.recorded), key=str):
            if self.expected[key] != self.recorded[key]:
                lines.append(f"mismatch: {key[0]} on {'a patient' if key[1] else 'no patient'}: "
                             f"made {self.expected[key]}, recorded {self.recorded[key]}")
        return "\n".join(lines)


async def bench_load(settings: Settings, seconds: float = DURATION_S, clients: int = CLIENTS,
                     baseline_seconds: float = BASELINE_S, env: dict[str, str] | None = None) -> LoadReport:
    """The run and its checks; ``env`` is the environment of ``hms audit verify`` (default: this process's)."""
    free = _free_beds(settings)
    beds = [w for w in BENCH_WARDS for _ in range(free.get(w, 0))]
    if len(beds) < 2:
        raise SystemExit(f"bench load: {len(beds)} free beds on {', '.join(BENCH_WARDS)}; discharge patients first")
    n = min(PATIENTS, len(beds) - 1)
    api = ApiClient(settings)
    try:
        patients = await admit_patients(api, beds[:n])
        baseline = await drive(settings, api, patients, clients=1, seconds=baseline_seconds, admit_to=[])
        since = datetime.now(UTC)
        load = await drive(settings, api, patients, clients=clients, seconds=seconds,
                           admit_to=beds[n:n + ADMISSIONS])
        until = datetime.now(UTC)
        await asyncio.sleep(0.05)
        recorded = await ledger_accesses(api, {a for a, _ in load.accesses}, since, until)
        verify = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "deploy.cli", "audit", "verify"],
                                         capture_output=True, text=True, timeout=600, env=env)
        await discharge_all(api, [(p.journey_id, p.attending) for p in patients]
                            + [(a["journey_id"], "attending-1") for a in load.admitted])
    finally:
        await api.aclose()
    return LoadReport(clients, load, baseline, load.accesses, recorded, verify.returncode)


def run_bench_load(settings: Settings, seconds: float) -> int:
    """Run against the stack of ``HMS_HOME``; prints the table; 0 when there were no errors and the audit is exact."""
    report = asyncio.run(bench_load(settings, seconds))
    print(report.table())
    return 0 if report.ok else 1
