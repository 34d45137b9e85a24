"""The baseline of ``hms bench journey``: a bare workflow with a journey's activities and updates, all no-ops.

Its own module so the workflow sandbox imports nothing but Temporal (``deploy.bench_journey``
pulls in the HTTP client). The activities are split into one chunk before the first update
and one chunk per update, and each update runs its chunk before it returns, the way a
journey's task completions run their activities: the client drives it with sequential updates.
Local activities (the journey runs its hot-path storage writes as such) come first, as in a journey.
With ``children``, that many chunks run in child workflows instead: the same work in the journey's
shape (a journey's stages are child workflows), a second reference beside the single workflow.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from deploy.bench_baseline import noop


@dataclass
class BarePlan:
    activities: int
    updates: int
    local_activities: int = 0
    #: How many of the chunks run in a child workflow of their own (0: the bare single workflow). The
    #: reference with the journey's workflow tree: its stages are child workflows, which Temporal
    #: charges for whoever runs them.
    children: int = 0


def child_chunks(plan: BarePlan) -> set[int]:
    """The chunks (after the first) that run in child workflows, spread evenly over the updates."""
    parts = plan.updates + 1
    count = min(plan.children, parts - 1)
    return {1 + k * (parts - 1) // count for k in range(count)} if count else set()


def chunks(activities: int, updates: int) -> list[int]:
    """Activities per chunk: chunk 0 runs at start, chunk i after update i (sizes differ by at most one)."""
    parts = updates + 1
    return [activities // parts + (1 if i < activities % parts else 0) for i in range(parts)]


def steps(plan: BarePlan) -> list[list[bool]]:
    """Per chunk, one flag per activity: True for a local activity (those run first)."""
    kinds = [True] * plan.local_activities + [False] * plan.activities
    out, at = [], 0
    for size in chunks(len(kinds), plan.updates):
        out.append(kinds[at:at + size])
        at += size
    return out


async def _run_steps(kinds: list[bool]) -> None:
    for step, local in enumerate(kinds):
        if local:
            await workflow.execute_local_activity(noop, step, start_to_close_timeout=timedelta(seconds=30))
        else:
            await workflow.execute_activity(noop, step, start_to_close_timeout=timedelta(seconds=30))


@workflow.defn(name="BenchBareStageWorkflow")
class BareStageWorkflow:
    """One chunk of no-op activities as a child workflow (the reference with the journey's tree)."""

    @workflow.run
    async def run(self, kinds: list[bool]) -> int:
        await _run_steps(kinds)
        return len(kinds)


@workflow.defn(name="BenchBareJourneyWorkflow")
class BareJourneyWorkflow:
    def __init__(self) -> None:
        self._plan: BarePlan | None = None
        self._done = 0  # chunks finished

    @workflow.run
    async def run(self, plan: BarePlan) -> int:
        self._plan = plan
        await self._chunk(0)
        await workflow.wait_condition(lambda: self._done > plan.updates)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return plan.activities

    @workflow.update
    async def step(self, n: int) -> int:
        """Update ``n`` (0-based) runs chunk ``n + 1`` once the chunk before it has finished."""
        await workflow.wait_condition(lambda: self._done == n + 1)
        await self._chunk(n + 1)
        return n

    async def _chunk(self, i: int) -> None:
        plan = self._plan
        assert plan is not None
        kinds = steps(plan)[i]
        if i in child_chunks(plan):
            await workflow.execute_child_workflow(BareStageWorkflow.run, kinds,
                                                  id=f"{workflow.info().workflow_id}-stage-{i}")
        else:
            await _run_steps(kinds)
        self._done = i + 1
