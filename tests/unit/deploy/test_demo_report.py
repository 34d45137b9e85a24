"""The demo's summary, progress bar and scheduling, and the journey benchmark's baseline plan (no servers)."""
from __future__ import annotations

import asyncio
import io
from collections import Counter
from decimal import Decimal

import pytest

from deploy import demo
from deploy.bench_journey_baseline import BarePlan, child_chunks, chunks, steps
from deploy.demo_journey import Outcome
from deploy.demo_report import (
    format_failures,
    format_summary,
    percentile,
    progress_line,
    report_json,
    stage_stats,
)
from deploy.demo_scenarios import generate


def outcome(i: int, ok: bool = True, **durations: float) -> Outcome:
    o = Outcome(index=i, journey_id=f"journey-{i:04d}" if i % 5 else None, ok=ok,
                reason=None if ok else "GET /api/v1/tasks → 503: the workflow engine is unavailable",
                durations={"admission": 1.0 + i, "discharge": 2.0, "journey": 10.0 + i, **durations},
                tasks=Counter({"nurse": 2, "attending_physician": 2, "billing_clerk": 1}))
    if ok:
        o.invoice_id, o.invoice_total, o.currency = f"invoice-{i}", Decimal("2500.00"), "INR"
        o.settlement = "denied" if i == 3 else "paid"
    return o


def test_percentile_is_nearest_rank() -> None:
    assert percentile([5.0], 95) == 5.0
    assert percentile(list(map(float, range(1, 21))), 95) == 19.0
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    with pytest.raises(ValueError):
        percentile([], 95)


def test_progress_line_fills_with_the_finished_share() -> None:
    assert progress_line(0, 4, 0, 0.0, width=8) == "[........] 0/4 journeys, 0 s"
    assert progress_line(2, 4, 1, 12.4, width=8) == "[####....] 2/4 journeys, 1 failed, 12 s"
    assert progress_line(4, 4, 0, 30.0, width=8).startswith("[########] 4/4")


def test_progress_redraws_one_line_on_its_stream() -> None:
    stream = io.StringIO()
    bar = demo.Progress(2, stream=stream)
    bar.finished(True)
    bar.finished(False)
    bar.close()
    text = stream.getvalue()
    assert text.count("\r") == 3 and text.endswith("\n") and "2/2 journeys, 1 failed" in text


def test_stage_statistics_cover_completed_journeys_only() -> None:
    rows = {stage: (n, mean, p95) for stage, n, mean, p95 in
            stage_stats([outcome(1), outcome(2, imaging=4.0), outcome(3, ok=False, imaging=99.0)])}
    assert rows["admission"] == (2, 2.5, 3.0)
    assert rows["imaging"] == (1, 4.0, 4.0)
    assert "triage" not in rows and list(rows)[-1] == "journey"


def test_summary_has_counts_stages_tasks_and_invoices_but_no_patient_data() -> None:
    scenarios = generate(6, seed=2)
    outcomes = [outcome(i) for i in range(1, 6)] + [outcome(6, ok=False)]
    text = format_summary(outcomes, scenarios, seed=2, concurrency=8, elapsed=30.0, notes_route=False)
    assert "| completed | 5 |" in text and "| failed | 1 |" in text
    assert "| admission | 5 |" in text and "| journey | 5 |" in text
    assert "| nurse | 12 |" in text and "| billing_clerk | 6 |" in text and "| total | 30 |" in text
    assert "| issued and settled | 5 | 12500.00 INR |" in text
    assert "| claims paid | 4 |" in text and "| claims denied | 1 |" in text
    assert "the API has no notes route" in text
    for s in scenarios:
        assert s.given not in text and s.family not in text and s.birth_date not in text
    with_notes = format_summary(outcomes, scenarios, seed=2, concurrency=8, elapsed=30.0, notes_route=True)
    assert "psychiatric notes posted" in with_notes


def test_failures_name_the_journey_or_the_scenario_and_the_reason() -> None:
    lines = format_failures([outcome(1), outcome(7, ok=False), outcome(10, ok=False)])
    assert lines == ["failed: journey-0007: GET /api/v1/tasks → 503: the workflow engine is unavailable",
                     "failed: scenario-10: GET /api/v1/tasks → 503: the workflow engine is unavailable"]


def test_json_report_is_plain_data() -> None:
    data = report_json([outcome(1), outcome(2, ok=False)], seed=4, elapsed=3.21)
    assert data["completed"] == 1 and data["failed"] == [{"id": "journey-0002", "reason": outcome(2, False).reason}]
    assert data["invoices"] == {"count": 1, "settlements": {"paid": 1}, "totals": {"INR": "2500.00"}}
    assert data["tasks_by_role"]["nurse"] == 4 and data["journeys"][0]["invoice_total"] == "2500.00"


class FakeDriver:
    """Stands in for a journey: tracks how many run at once, overall and per ward."""

    running: Counter[str] = Counter()
    peak: Counter[str] = Counter()

    def __init__(self, api, scenario, *, step_timeout, notes_route) -> None:  # noqa: ANN001
        self.s, self.outcome = scenario, Outcome(index=scenario.index)

    async def run(self) -> Outcome:
        for key in ("all", self.s.ward):
            FakeDriver.running[key] += 1
            FakeDriver.peak[key] = max(FakeDriver.peak[key], FakeDriver.running[key])
        try:
            if self.s.index == 4:
                raise KeyError("journey_id")
            await asyncio.sleep(5 if self.s.index == 6 else 0.01)
        finally:
            for key in ("all", self.s.ward):
                FakeDriver.running[key] -= 1
        self.outcome.ok = True
        return self.outcome


def test_run_all_bounds_concurrency_and_reports_each_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(demo, "JourneyDriver", FakeDriver)
    FakeDriver.peak.clear()
    scenarios = generate(30, seed=1)
    caps = {"medical": 2, "surgical": 1, "psychiatry": 1}
    api = None  # the fake driver never calls the API
    outcomes = asyncio.run(demo.run_all(api, scenarios, concurrency=3, step_timeout=1,  # type: ignore[arg-type]
                                        journey_timeout=0.5, notes=False, ward_caps=caps))
    assert [o.index for o in outcomes] == list(range(30))
    assert FakeDriver.peak["all"] <= 3
    for ward, cap in caps.items():
        assert FakeDriver.peak[ward] <= cap
    failed = {o.index: o.reason for o in outcomes if not o.ok}
    assert set(failed) == {4, 6}
    assert failed[4] == "KeyError: 'journey_id'" and "longer than 0.5 s" in failed[6]


def test_baseline_plan_spreads_activities_over_the_updates() -> None:
    assert chunks(41, 10) == [4] * 8 + [3] * 3 and sum(chunks(41, 10)) == 41
    assert chunks(3, 0) == [3]
    plan = steps(BarePlan(activities=35, updates=10, local_activities=6))
    assert len(plan) == 11 and sum(map(len, plan)) == 41
    flat = [local for chunk in plan for local in chunk]
    assert flat == [True] * 6 + [False] * 35


def test_the_shaped_reference_spreads_its_children_over_the_updates() -> None:
    assert child_chunks(BarePlan(activities=37, updates=11)) == set()
    assert child_chunks(BarePlan(activities=37, updates=11, children=5)) == {1, 3, 5, 7, 9}
    assert child_chunks(BarePlan(activities=4, updates=2, children=5)) == {1, 2}  # at most one per update
