"""``hms bench policy`` and ``hms bench read``: the cost of the security spine, next to a bare baseline.

``policy``: decisions of the engine the API runs (embedded Rego compiled once by regopy, behind the
decision cache of ``policies/cache.py``) over realistic inputs (the acceptance matrix of DESIGN.md,
with consent states and break-glass contexts; those under a grant are never cached), p50/p99 in µs,
next to a bare Python lookup of the role's permission row and the Rego evaluation alone (a miss).
Goal: p50 ≤ 100 µs.

``read``: a PHI read through the running stack's API (``GET /api/v1/patients/{id}`` over HTTPS:
token check, policy, decryption, ledger entry) next to a bare read of the same row over the same
HTTPS stack (``deploy/bench_bare_read.py``: FastAPI + uvicorn + TLS 1.3 in its own process, one
SELECT, the stored bytes returned as they are), alternating, same run. Goal: ≤ 2× the bare read.
A third line puts the API read next to the SQL SELECT alone (no HTTP, no TLS), for context.
"""
from __future__ import annotations

import asyncio
import json
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from deploy import wiring
from deploy.client import ApiClient, tls_context
from deploy.procs import free_port
from deploy.settings import Settings
from deploy.tokens import issue_token

POLICY_GOAL_US = 100.0
READ_GOAL = 2.0


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _policy_inputs() -> list[dict[str, Any]]:
    """The acceptance matrix, plus each patient-record case with a consent state (active and withdrawn)."""
    from policies.acceptance import CASES

    inputs = [c.input for c in CASES]
    for c in CASES:
        if isinstance(c.input["resource"].get("patient_id"), str):
            for state in ("active", "withdrawn"):
                doc = json.loads(json.dumps(c.input))
                doc["resource"]["consent"] = {"TREAT": state, "HRESCH": None, "HMARKT": None}
                inputs.append(doc)
    return inputs


def _bare_lookup() -> Callable[[dict[str, Any]], bool]:
    """The baseline: is the action in the role's row of the matrix (a dict lookup, no relationships)."""
    data = json.loads((Path(__file__).parents[1] / "policies" / "hms" / "authz" / "data.json").read_text())
    permissions: dict[str, dict[str, list[str]]] = data["permissions"]

    def decide(doc: dict[str, Any]) -> bool:
        row = permissions.get(doc["subject"]["role"], {})
        return doc["action"] in row.get(doc["resource"].get("type"), ())

    return decide


def bench_policy(n: int) -> str:
    """``n`` decisions of the engine the API runs (the Rego bundle behind the decision cache) over the
    realistic inputs, round robin, each timed alone; next to the Rego evaluation alone (every decision
    a cache miss) and a bare dict lookup."""
    from policies.cache import CachingPolicyEngine
    from policies.embedded import EmbeddedPolicyEngine

    rego = EmbeddedPolicyEngine()
    if not rego.healthy:
        raise SystemExit(f"bench policy: the policy bundle does not load: {rego.error}")
    engine = CachingPolicyEngine(rego)
    inputs = _policy_inputs()
    bare = _bare_lookup()
    for doc in inputs:  # warm up the evaluator (first evaluations allocate); the cache starts empty
        rego.decide(doc)
    project, uncached, baseline, allowed = [], [], [], 0
    clock = time.perf_counter_ns
    for i in range(n):
        doc = inputs[i % len(inputs)]
        t0 = clock()
        decision = engine.decide(doc)
        t1 = clock()
        bare(doc)
        t2 = clock()
        project.append((t1 - t0) / 1000)
        baseline.append((t2 - t1) / 1000)
        allowed += decision.allow
        if i % 10 == 0:
            t3 = clock()
            rego.decide(doc)
            uncached.append((clock() - t3) / 1000)
    p50, p99 = _percentile(project, 0.5), _percentile(project, 0.99)
    b50, b99 = _percentile(baseline, 0.5), _percentile(baseline, 0.99)
    r50, r99 = _percentile(uncached, 0.5), _percentile(uncached, 0.99)
    hit_rate = engine.hits / max(1, engine.hits + engine.misses)
    return "\n".join([
        f"| measure (n={n} decisions over {len(inputs)} distinct inputs, {allowed} allowed) "
        "| project | baseline | ratio |",
        "|---|---|---|---|",
        f"| decision p50 µs: Rego bundle behind the decision cache (hit rate {hit_rate:.1%}) vs dict lookup "
        f"of the role's permission row | {p50:.1f} | {b50:.2f} | {p50 / b50:.0f} |",
        f"| decision p99 µs (the misses: first sight of an input) | {p99:.1f} | {b99:.2f} | {p99 / b99:.0f} |",
        f"| context: Rego evaluation alone (regopy, every decision a miss), p50 / p99 µs, n={len(uncached)} "
        f"| {r50:.1f} / {r99:.1f} | | |",
        f"| goal: embedded p50 ≤ {POLICY_GOAL_US:.0f} µs | {p50:.1f} | | "
        f"goal {'met' if p50 <= POLICY_GOAL_US else 'NOT met'} |",
    ])


async def _admit(settings: Settings) -> tuple[dict[str, Any], str]:
    """One patient admitted for the benchmark (discharged again afterwards); returns (admission, attending)."""
    api = ApiClient(settings)
    try:
        started = await api.admit(random.randrange(10**6, 10**7), ward="medical")
        journey = await api.wait_stage(started["journey_id"], "attending-1", ("admitted",))
    finally:
        await api.aclose()
    return started, journey["attending"]


async def _discharge(settings: Settings, journey_id: str, attending: str) -> None:
    api = ApiClient(settings)
    try:
        await api.discharge(journey_id, attending)
    finally:
        await api.aclose()


def bench_read(settings: Settings, n: int) -> str:
    """``n`` PHI reads through the API vs ``n`` bare HTTPS reads of the same row vs ``n`` SQL SELECTs, alternating."""
    started, attending = asyncio.run(_admit(settings))
    patient_id = started["patient_id"]
    engine = wiring.database_engine(settings, pool_size=1)
    select = sa.text("SELECT * FROM hms.patients WHERE id = :id")
    headers = {"Authorization": f"Bearer {issue_token(settings, attending, 'attending_physician')}"}
    port = free_port()
    bare_server = subprocess.Popen([sys.executable, "-m", "deploy.bench_bare_read", str(port)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    api_ms, bare_ms, sql_ms = [], [], []
    clock = time.perf_counter
    try:
        with httpx.Client(base_url=settings.api_base_url, verify=tls_context(settings), timeout=30) as http, \
                httpx.Client(base_url=f"https://127.0.0.1:{port}", verify=tls_context(settings), timeout=30) as bare, \
                engine.connect() as conn:
            _wait_healthy(bare, bare_server)
            for _ in range(20):  # warm up: connections, TLS sessions, caches
                assert http.get(f"/api/v1/patients/{patient_id}", headers=headers).status_code == 200
                assert bare.get(f"/bare/patients/{patient_id}").status_code == 200
                conn.execute(select, {"id": patient_id}).one()
                conn.rollback()
            for _ in range(n):
                t0 = clock()
                r = http.get(f"/api/v1/patients/{patient_id}", headers=headers)
                t1 = clock()
                b = bare.get(f"/bare/patients/{patient_id}")
                t2 = clock()
                conn.execute(select, {"id": patient_id}).one()
                t3 = clock()
                conn.rollback()
                if r.status_code != 200 or b.status_code != 200:
                    raise SystemExit(f"bench read: GET patient → {r.status_code}, bare read → {b.status_code}")
                api_ms.append((t1 - t0) * 1000)
                bare_ms.append((t2 - t1) * 1000)
                sql_ms.append((t3 - t2) * 1000)
    finally:
        bare_server.terminate()
        bare_server.wait(timeout=10)
        engine.dispose()
        asyncio.run(_discharge(settings, started["journey_id"], attending))
    a50, b50, s50 = (statistics.median(x) for x in (api_ms, bare_ms, sql_ms))
    ratio = a50 / b50
    return "\n".join([
        f"| measure (n={n} sequential reads of one patient's row, alternating) | project | baseline | ratio |",
        "|---|---|---|---|",
        f"| PHI read p50 ms: GET /api/v1/patients/{{id}} (auth+policy+decrypt+audit) vs a bare HTTPS read of the "
        f"same row (same FastAPI+uvicorn TLS 1.3 stack, no auth/policy/decrypt/audit) | {a50:.2f} | {b50:.2f} | "
        f"{ratio:.2f} (goal ≤ {READ_GOAL:.0f}: {'met' if ratio <= READ_GOAL else 'NOT met'}) |",
        f"| PHI read p99 ms | {_percentile(api_ms, 0.99):.2f} | {_percentile(bare_ms, 0.99):.2f} | |",
        f"| context: SQL SELECT of the row in-process (no HTTP, no TLS), p50 ms | {a50:.2f} | {s50:.3f} | "
        f"{a50 / s50:.1f} |",
    ])



def _wait_healthy(client: httpx.Client, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            err = process.stderr.read().decode(errors="replace")[-400:] if process.stderr else ""
            raise SystemExit(f"bench read: the baseline server exited: {err}")
        try:
            if client.get("/healthz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit("bench read: the baseline server did not start in 60 s")
