"""``hms bench journey``: complete journeys through the API vs bare workflows doing the same amount of Temporal work.

The project side drives N identical journeys over HTTPS exactly as the demo does (elective
admission, an imaging study read by a radiologist, a one-dose medication course verified by the
pharmacist and given by the nurse, the discharge checklist and bed cleaning, the billing clerk's
settlement): every call authenticated, decided by policy and recorded in the ledger, every task
found in the inbox. The baseline runs, on the same Temporal server in the same run, N bare
workflows with as many no-op activities and updates as one journey actually ran, counted from
the histories of a warm-up journey (its workflow and every child), the updates sent one after
the other by a client as the journey's tasks are. The goal is against that single workflow. A
second reference runs the same work in the journey's shape (as many child workflows as the journey
had stages), so the table also shows what the product adds over the workflow tree it is required to
be, and what the tree alone costs on this Temporal server.
"""
from __future__ import annotations

import asyncio
import dataclasses
import statistics
import sys
import time
import uuid
from dataclasses import dataclass

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker

from deploy import wiring
from deploy.bench import _free_beds, _timed
from deploy.bench_baseline import noop
from deploy.bench_journey_baseline import BareJourneyWorkflow, BarePlan, BareStageWorkflow
from deploy.client import ApiClient
from deploy.demo import run_all
from deploy.demo_journey import Outcome
from deploy.demo_scenarios import bench_scenario
from deploy.settings import Settings

BENCH_WARDS = ("medical", "surgical")
CONCURRENCY = 8
ROUNDS = 3
GOAL = 1.3
STEP_TIMEOUT = 120.0
JOURNEY_TIMEOUT = 600.0
#: The marker a local activity leaves in history (sdk-core's name).
LOCAL_ACTIVITY_MARKER = "core_local_activity"


@dataclass
class Work:
    """What one journey made Temporal do: its workflows (journey and children), activities, updates, signals."""

    workflows: int = 0
    activities: int = 0
    local_activities: int = 0
    updates: int = 0
    signals: int = 0


async def count_work(client: Client, roots: list[str]) -> Work:
    """Walk the journey's workflow tree through the histories and count what was scheduled and accepted."""
    work, seen, queue = Work(), set(), list(roots)
    while queue:
        workflow_id = queue.pop()
        if workflow_id in seen:
            continue
        try:
            events = [e async for e in client.get_workflow_handle(workflow_id).fetch_history_events()]
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                continue
            raise
        seen.add(workflow_id)
        for e in events:
            if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
                work.activities += 1
            elif (e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
                  and e.marker_recorded_event_attributes.marker_name == LOCAL_ACTIVITY_MARKER):
                work.local_activities += 1
            elif e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
                work.updates += 1
            elif e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
                work.signals += 1
            elif e.event_type == EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
                queue.append(e.start_child_workflow_execution_initiated_event_attributes.workflow_id)
    work.workflows = len(seen)
    return work


def journey_roots(outcome: Outcome) -> list[str]:
    """The journey and its discharge (started by the API today, a child of the journey once moved into it)."""
    roots = [outcome.journey_id or ""]
    if outcome.encounter_id:
        roots.append(f"discharge-{outcome.encounter_id}")
    return roots



async def bare_journey(client: Client, queue: str, plan: BarePlan, workflow_id: str | None = None) -> int:
    """One baseline run: start, then each update in turn (waiting for its result), then the result."""
    handle = await client.start_workflow(BareJourneyWorkflow.run, plan,
                                         id=workflow_id or f"bench-bare-journey-{uuid.uuid4()}", task_queue=queue)
    for i in range(plan.updates):
        await handle.execute_update(BareJourneyWorkflow.step, i)
    return await handle.result()


def _failures(outcomes: list[Outcome]) -> list[str]:
    return [f"failed: {o.label}: {o.reason}" for o in outcomes if not o.ok]


async def bench_journey(settings: Settings, n: int, rounds: int = ROUNDS) -> tuple[str, int]:
    """(the result table, exit status): 0 when every journey completed.

    A warm-up journey (untimed) is counted first; then project and baseline alternate for
    ``rounds`` rounds of ``n`` each and the median round is reported, so a burst of load on a
    shared machine lands on one round rather than on one side.
    """
    free = _free_beds(settings)
    caps = {w: free.get(w, 0) for w in BENCH_WARDS}
    wards = [w for w in BENCH_WARDS for _ in range(caps[w])]
    if not wards:
        return f"bench journey: no free bed on {', '.join(BENCH_WARDS)}; discharge patients first", 2
    concurrency = min(CONCURRENCY, len(wards))
    client = await wiring.connect_temporal(settings)
    api = ApiClient(settings, limit=concurrency * 4, poll_interval=0.05, max_poll_interval=0.25)
    await api.use_push(BENCH_WARDS)
    started = 0

    async def journeys(count: int) -> tuple[float, list[Outcome]]:
        nonlocal started
        scenarios = [bench_scenario(started + i, wards[(started + i) % len(wards)]) for i in range(count)]
        started += count
        t0 = time.perf_counter()
        outcomes = await run_all(api, scenarios, concurrency=concurrency, step_timeout=STEP_TIMEOUT,
                                 journey_timeout=JOURNEY_TIMEOUT, notes=False, ward_caps=caps)
        return time.perf_counter() - t0, outcomes

    project: list[float] = []
    baseline: list[float] = []
    tree: list[float] = []
    try:
        _, warm = await journeys(1)
        if not warm[0].ok:
            return "\n".join(["bench journey: the warm-up journey did not complete", *_failures(warm)]), 1
        work = await count_work(client, journey_roots(warm[0]))
        plan = BarePlan(activities=work.activities, updates=work.updates, local_activities=work.local_activities)
        shaped = dataclasses.replace(plan, children=work.workflows - 1)
        queue = f"bench-bare-journey-{uuid.uuid4()}"
        async with Worker(client, task_queue=queue, workflows=[BareJourneyWorkflow, BareStageWorkflow],
                          activities=[noop]):
            await bare_journey(client, queue, plan)  # warm-up, as on the project side
            await bare_journey(client, queue, shaped)
            for _ in range(rounds):
                elapsed, outcomes = await journeys(n)
                failures = _failures(outcomes)
                if failures:
                    return "\n".join([f"bench journey: {len(failures)} of {n} journeys did not complete",
                                      *failures]), 1
                project.append(elapsed)
                baseline.append(await _timed(n, lambda i: bare_journey(client, queue, plan), concurrency))
                tree.append(await _timed(n, lambda i: bare_journey(client, queue, shaped), concurrency))
    finally:
        pushed = api.wakeups.received if api.wakeups is not None else 0
        await api.aclose()
    ratios = sorted(p / b for p, b in zip(project, baseline, strict=True))
    ratio = statistics.median(ratios)
    tree_ratio = statistics.median(p / t for p, t in zip(project, tree, strict=True))
    shape_ratio = statistics.median(t / b for t, b in zip(tree, baseline, strict=True))
    verdict = "met" if ratio <= GOAL else "NOT met"
    return "\n".join([
        f"| measure (n={n} per round, {rounds} alternating rounds, concurrency {concurrency}) "
        "| project | baseline | ratio |",
        "|---|---|---|---|",
        f"| journeys/s: admission, imaging, pharmacy, discharge and billing over the API (auth, policy, audit, "
        f"inbox) vs a bare workflow of {work.activities + work.local_activities} no-op activities "
        f"({work.local_activities} local) and {work.updates} updates (median round) "
        f"| {n / statistics.median(project):.2f} | {n / statistics.median(baseline):.2f} "
        f"| {ratio:.2f} (goal ≤ {GOAL}: {verdict}) |",
        f"| ratio per round, sorted | | | {', '.join(f'{r:.2f}' for r in ratios)} |",
        f"| reference in the journey's shape: the same no-op work with {work.workflows - 1} of its chunks in child "
        f"workflows (a journey's stages are child workflows) | {n / statistics.median(project):.2f} "
        f"| {n / statistics.median(tree):.2f} | {tree_ratio:.2f} |",
        f"| the shape alone: that reference vs the single bare workflow | {n / statistics.median(tree):.2f} "
        f"| {n / statistics.median(baseline):.2f} | {shape_ratio:.2f} |",
        "",
        f"one journey ran {work.workflows} workflows, {work.activities} activities and {work.local_activities} "
        f"local activities, {work.updates} updates and {work.signals} signals (counted from the histories of the "
        "warm-up journey); the drivers' waits woke on "
        f"{pushed} pushed ward-stream events (WebSocket) and otherwise polled the inbox every "
        f"{api.poll_interval:g}–{api.push_fallback:g} s",
    ]), 0


def run_bench_journey(settings: Settings, n: int) -> int:
    if n < 1:
        print("hms bench journey: -n must be at least 1", file=sys.stderr)
        return 2
    table, status = asyncio.run(bench_journey(settings, n))
    print(table, file=sys.stdout if status == 0 else sys.stderr)
    return status
