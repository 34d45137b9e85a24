"""``hms bench NAME``: each benchmark prints its figure next to a baseline measured in the same run."""
from __future__ import annotations

import asyncio
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable

import sqlalchemy as sa
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker

from deploy import wiring
from deploy.bench_baseline import BareWorkflow, noop
from deploy.client import ApiClient
from deploy.settings import Settings

#: Activities one admission runs: register, consent, encounter, care team, bed, in progress.
ADMISSION_ACTIVITIES = 6
CONCURRENCY = 8
ROUNDS = 3


async def _timed(n: int, one: Callable[[int], Awaitable[object]], concurrency: int = CONCURRENCY) -> float:
    """Seconds for ``n`` calls of ``one``, at most ``concurrency`` at a time."""
    gate = asyncio.Semaphore(concurrency)

    async def guarded(i: int) -> object:
        async with gate:
            return await one(i)

    start = time.perf_counter()
    await asyncio.gather(*(guarded(i) for i in range(n)))
    return time.perf_counter() - start


async def _child_result(client: Client, workflow_id: str) -> object:
    """The child's result; it may not exist yet right after its parent started."""
    while True:
        try:
            return await client.get_workflow_handle(workflow_id).result()
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise
            await asyncio.sleep(0.02)


BENCH_WARDS = ("medical", "surgical", "emergency")


def _free_beds(settings: Settings) -> dict[str, int]:
    engine = wiring.database_engine(settings, pool_size=1)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT ward_id, count(*) FROM hms.beds WHERE encounter_id IS NULL "
                                    "GROUP BY ward_id")).all()
    engine.dispose()
    return {ward: count for ward, count in rows}


async def bench_admission(settings: Settings, n: int, rounds: int = ROUNDS) -> str:
    """N admissions through the API (auth, policy, workflow, audit) vs N bare workflows, same server.

    The two sides alternate for ``rounds`` rounds and the median ratio is reported, so a burst of
    load on the machine lands on one round rather than on one side. Admissions only measure what
    they claim when no patient waits for a bed, so N is capped at the free beds of the wards used;
    the admitted patients are discharged after each round (not timed).
    """
    free = _free_beds(settings)
    wards = [w for w in BENCH_WARDS for _ in range(free.get(w, 0))]
    if len(wards) < n:
        print(f"bench admission: only {len(wards)} free beds on {', '.join(BENCH_WARDS)}; running n={len(wards)}")
        n = len(wards)
    if n == 0:
        raise SystemExit("bench admission: no free bed to admit to; discharge patients first")
    client = await wiring.connect_temporal(settings)
    api = ApiClient(settings)
    queue = f"bench-bare-{uuid.uuid4()}"
    project: list[float] = []
    baseline: list[float] = []
    try:
        async with Worker(client, task_queue=queue, workflows=[BareWorkflow], activities=[noop]):
            for _ in range(rounds):
                project.append(await _admission_round(client, api, wards, n))
                baseline.append(await _timed(n, lambda i: client.execute_workflow(
                    BareWorkflow.run, ADMISSION_ACTIVITIES, id=f"bench-bare-{uuid.uuid4()}", task_queue=queue)))
    finally:
        await api.aclose()
    ratios = sorted(p / b for p, b in zip(project, baseline, strict=True))
    ratio = statistics.median(ratios)
    return "\n".join([
        f"| measure (n={n} per round, {rounds} alternating rounds, concurrency {CONCURRENCY}) "
        "| project | baseline | ratio |",
        "|---|---|---|---|",
        f"| admissions/s: API+policy+workflow+audit vs bare workflow of {ADMISSION_ACTIVITIES} no-op activities "
        f"(median round) | {n / statistics.median(project):.1f} | {n / statistics.median(baseline):.1f} "
        f"| {ratio:.2f} (goal ≤ 1.5: {'met' if ratio <= 1.5 else 'NOT met'}) |",
        f"| ratio per round, sorted | | | {', '.join(f'{r:.2f}' for r in ratios)} |",
    ])


async def _admission_round(client: Client, api: ApiClient, wards: list[str], n: int) -> float:
    """Seconds for n admissions through the API; the patients are discharged again afterwards (not timed)."""
    journeys: list[dict] = []

    async def admit(i: int) -> None:
        started = await api.admit(i, ward=wards[i])
        journeys.append(started)
        await _child_result(client, f"admission-{started['encounter_id']}")

    elapsed = await _timed(n, admit)
    for j in journeys:
        admitted = await api.wait_stage(j["journey_id"], "attending-1", ("admitted",))
        await api.discharge(j["journey_id"], admitted["attending"])
    for j in journeys:  # the beds are free again before the next round
        await api.wait_stage(j["journey_id"], "attending-1", ("discharged",))
    return elapsed


def run_bench(settings: Settings, name: str, n: int | None = None) -> int:
    if name == "admission":
        print(asyncio.run(bench_admission(settings, n or 40)))
        return 0
    if name == "journey":
        from deploy.bench_journey import run_bench_journey

        return run_bench_journey(settings, n or 12)
    if name == "imaging-triage":
        from deploy.bench_imaging import bench_imaging_triage

        print(bench_imaging_triage(days=n))
        return 0
    if name == "inference":
        from ml import cli as ml_cli

        print(ml_cli.bench_inference(ml_cli.DEFAULT_MODELS_DIR, n=n or 2000))
        return 0
    if name == "ledger":
        from ledger.bench import bench_ledger

        print(bench_ledger(settings.resolved_database_url(), n or 20_000))
        return 0
    if name == "audit-load":
        from deploy.audit_cli import bench_audit_load

        print(bench_audit_load(settings, n or 10_000))
        return 0
    if name == "hl7":
        from deploy.bench_hl7 import run_bench_hl7

        return run_bench_hl7(settings, n or 300)
    if name == "fhir":
        from deploy.bench_fhir import run_bench_fhir

        return run_bench_fhir(settings, n or 1000)
    if name in ("policy", "read"):
        from deploy.bench_security import bench_policy, bench_read

        print(bench_policy(n or 20_000) if name == "policy" else bench_read(settings, n or 300))
        return 0
    if name == "load":
        from deploy.bench_load import DURATION_S, run_bench_load

        return run_bench_load(settings, float(n or DURATION_S))
    if name == "all":
        from deploy.bench_all import run_bench_all

        return run_bench_all(settings)
    print(f"hms bench: unknown benchmark {name!r} ({', '.join(BENCHES)}, all)", file=sys.stderr)
    return 2


#: Every benchmark ``run_bench`` knows, in the order ``hms bench all`` runs them.
#: The order of ``hms bench all``: hl7 last, since its ADT^A01 flood admits more patients than the demo
#: hospital has beds, and the benches that admit (journey, fhir, load) need free ones.
BENCHES = ("policy", "read", "admission", "journey", "imaging-triage", "inference", "ledger", "audit-load", "fhir",
           "load", "hl7")
