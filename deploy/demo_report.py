"""The demo's progress bar and summary: counts, stage durations, tasks by role, invoices (no patient data)."""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from deploy.demo_journey import Outcome
from deploy.demo_scenarios import Scenario, mix

STAGES = ("triage", "admission", "imaging", "pharmacy", "discharge", "billing", "journey")


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0–100) of a non-empty sequence."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def progress_line(done: int, total: int, failed: int, elapsed: float, width: int = 30) -> str:
    """``[#####.....]  5/10 journeys, 1 failed, 12 s`` — redrawn in place on stderr."""
    filled = width * done // total if total else width
    failures = f", {failed} failed" if failed else ""
    return f"[{'#' * filled}{'.' * (width - filled)}] {done:>{len(str(total))}}/{total} journeys{failures}, " \
           f"{elapsed:.0f} s"


def stage_stats(outcomes: Sequence[Outcome]) -> list[tuple[str, int, float, float]]:
    """(stage, journeys, mean s, p95 s) over the completed journeys that went through each stage."""
    rows = []
    for stage in STAGES:
        values = [o.durations[stage] for o in outcomes if o.ok and stage in o.durations]
        if values:
            rows.append((stage, len(values), sum(values) / len(values), percentile(values, 95)))
    return rows


def invoice_totals(outcomes: Sequence[Outcome]) -> tuple[int, Counter[str], dict[str, Decimal]]:
    """(invoices, settlements by outcome, total by currency) over journeys whose claim was settled."""
    settled = [o for o in outcomes if o.invoice_id and o.settlement]
    totals: dict[str, Decimal] = {}
    for o in settled:
        cur = o.currency or "?"
        totals[cur] = totals.get(cur, Decimal("0.00")) + (o.invoice_total or Decimal("0.00"))
    return len(settled), Counter(o.settlement for o in settled if o.settlement), totals


def format_summary(outcomes: Sequence[Outcome], scenarios: Sequence[Scenario], *, seed: int, concurrency: int,
                   elapsed: float, notes_route: bool) -> str:
    completed = sum(o.ok for o in outcomes)
    failed = len(outcomes) - completed
    lines = [f"hms demo: {len(outcomes)} patients, seed {seed}, concurrency {concurrency}, {elapsed:.1f} s "
             f"({completed / elapsed if elapsed > 0 else 0:.2f} journeys/s)", "",
             "| journeys | count |", "|---|---|", f"| completed | {completed} |", f"| failed | {failed} |", "",
             "| stage (completed journeys) | journeys | mean s | p95 s |", "|---|---|---|---|"]
    lines += [f"| {stage} | {n} | {mean:.2f} | {p95:.2f} |" for stage, n, mean, p95 in stage_stats(outcomes)]
    tasks: Counter[str] = Counter()
    for o in outcomes:
        tasks.update(o.tasks)
    lines += ["", "| tasks completed by role | count |", "|---|---|"]
    lines += [f"| {role} | {n} |" for role, n in sorted(tasks.items())]
    lines.append(f"| total | {sum(tasks.values())} |")
    count, by_outcome, totals = invoice_totals(outcomes)
    money = ", ".join(f"{total:.2f} {cur}" for cur, total in sorted(totals.items())) or "0.00"
    lines += ["", "| invoices | count | total |", "|---|---|---|",
              f"| issued and settled | {count} | {money} |"]
    lines += [f"| claims {outcome} | {n} | |" for outcome, n in sorted(by_outcome.items())]
    m = mix(list(scenarios))
    overrides = sum(o.overrides for o in outcomes)
    rejections = sum(o.rejections for o in outcomes)
    notes = sum(o.note == "posted" for o in outcomes)
    note_text = (f"{notes} psychiatric notes posted" if notes_route
                 else f"psychiatric notes skipped for {m['psych_note']} patients (the API has no notes route)")
    lines += ["", f"mix: {m['ed']} ED arrivals ({m['ed_intake']} via intake, {m['critical']} with a rapid response), "
              f"{m['elective']} elective; {m['imaging']} with imaging; {m['medications']} with medications "
              f"({overrides} findings overridden, {rejections} pharmacist rejections); {m['wards']} wards; "
              f"{note_text}"]
    return "\n".join(lines)


def format_failures(outcomes: Sequence[Outcome]) -> list[str]:
    """One line per failed journey: its id (or scenario number) and the reason, never patient data."""
    return [f"failed: {o.label}: {o.reason}" for o in outcomes if not o.ok]


def report_json(outcomes: Sequence[Outcome], *, seed: int, elapsed: float) -> dict[str, Any]:
    """A machine-readable summary (ids, counts and durations only)."""
    count, by_outcome, totals = invoice_totals(outcomes)
    tasks: Counter[str] = Counter()
    for o in outcomes:
        tasks.update(o.tasks)
    return {
        "seed": seed, "elapsed_seconds": round(elapsed, 3), "patients": len(outcomes),
        "completed": sum(o.ok for o in outcomes), "failed": [{"id": o.label, "reason": o.reason}
                                                             for o in outcomes if not o.ok],
        "stages": {s: {"journeys": n, "mean_seconds": round(mean, 3), "p95_seconds": round(p95, 3)}
                   for s, n, mean, p95 in stage_stats(outcomes)},
        "tasks_by_role": dict(sorted(tasks.items())),
        "invoices": {"count": count, "settlements": dict(by_outcome),
                     "totals": {cur: str(total) for cur, total in totals.items()}},
        "journeys": [{"id": o.label, "ok": o.ok, "invoice_id": o.invoice_id, "settlement": o.settlement,
                      "invoice_total": str(o.invoice_total) if o.invoice_total is not None else None}
                     for o in outcomes],
    }
