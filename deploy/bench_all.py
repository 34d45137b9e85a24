"""``hms bench all``: every registered benchmark in turn, one markdown table, and the machine it ran on.

Each benchmark runs in this process against the stack of ``HMS_HOME`` (``Settings`` from the
environment, as ``hms bench NAME`` does), at its default size or the smaller one in ``SIZES``
for the slow ones; its own table is captured from stdout (and shown on stderr as it was) and its
rows are folded into one table: measure, project, baseline, ratio, goal and verdict. A benchmark
that fails gets a row saying so and the others still run; the exit status is then 1.
"""
from __future__ import annotations

import contextlib
import functools
import io
import os
import platform
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from deploy.settings import Settings

#: Sizes (``-n``) used by ``bench all`` where the default would take too long on a small machine:
#: journeys per round, requests, and seconds of load.
SIZES: dict[str, int] = {"journey": 6, "audit-load": 5000, "load": 120}
_GOAL = re.compile(r"goal:?\s*([^|()]*?)\s*:?\s*\b(NOT met|met)\b")
_STANDARD = ["project", "baseline", "ratio"]


@dataclass(frozen=True)
class Row:
    """One line of the combined table."""

    bench: str
    measure: str
    project: str
    baseline: str
    ratio: str
    goal: str = ""
    verdict: str = ""


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def parse_table(bench: str, text: str) -> list[Row]:
    """The rows of every markdown table in a benchmark's output.

    A table headed ``| measure | project | baseline | ratio |`` maps column by column (its header's
    first cell, the run's size, follows the table's first measure); a four-column table of another shape
    (``| time to report | FIFO | AI priority | change |``) reads the second column as the baseline
    and the third as the project; any other table puts its columns after the measure's name.
    A goal and its verdict (``goal ≤ 1.5: met``) found in a row become their own columns.
    """
    rows: list[Row] = []
    header: list[str] | None = None
    table_started = False
    for line in text.splitlines():
        if not line.lstrip().startswith("|"):
            header = None
            continue
        cells = _cells(line)
        if header is None:
            header, table_started = cells, False
            continue
        if all(set(c) <= set("-: ") for c in cells):
            continue
        first_row, table_started = not table_started, True
        goal, verdict = "", ""
        found = _GOAL.search(line)
        if found:
            goal, verdict = found.group(1).strip(), found.group(2)
        if verdict and not goal and cells[0].lower().startswith("goal"):  # | goal: p50 ≤ 100 µs | … | goal met |
            goal = cells[0][4:].lstrip(": ")
        if [h.lower() for h in header[1:4]] == _STANDARD and len(cells) >= 4:
            ratio = re.sub(r"\s*\(goal[^)]*\)", "", cells[3]).strip()
            if ratio.startswith("goal"):
                ratio = ""
            context = re.sub(r"^measure\s*\((.*)\)$", r"\1", header[0])
            measure = f"{cells[0]} [{context}]" if first_row and context != "measure" else cells[0]
            rows.append(Row(bench, measure, cells[1], cells[2], ratio, goal, verdict))
        elif len(header) == 4 and len(cells) == 4:
            rows.append(Row(bench, f"{header[0]}: {cells[0]} ({header[2]} vs {header[1]})", cells[2], cells[1],
                            cells[3], goal, verdict))
        else:
            rows.append(Row(bench, f"{cells[0]} ({' / '.join(header[1:])})", " / ".join(cells[1:]), "", "",
                            goal, verdict))
    return rows


def _md(value: str) -> str:
    return value.replace("|", "\\|").replace("\n", " ")


def render(rows: list[Row], machine: str) -> str:
    """The combined markdown table, then the line naming the machine and the date."""
    out = ["| bench | measure | project | baseline | ratio | goal | verdict |", "|---|---|---|---|---|---|---|"]
    out += [f"| {' | '.join(_md(v) for v in (r.bench, r.measure, r.project, r.baseline, r.ratio, r.goal, r.verdict))} |"
            for r in rows]
    return "\n".join([*out, "", machine])


def machine_line(cpuinfo: str | None = None, meminfo: str | None = None, now: datetime | None = None) -> str:
    """Cores, RAM, CPU model (from /proc), Python version and the date (UTC)."""
    cpuinfo = cpuinfo if cpuinfo is not None else _read("/proc/cpuinfo")
    meminfo = meminfo if meminfo is not None else _read("/proc/meminfo")
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines()
                  if line.lower().startswith(("model name", "hardware", "cpu model"))), platform.processor() or "?")
    kib = next((int(line.split()[1]) for line in meminfo.splitlines() if line.startswith("MemTotal:")), 0)
    when = (now or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    return (f"machine: {os.cpu_count()} cores, {kib / 1024 / 1024:.1f} GiB RAM, {model}, "
            f"Python {platform.python_version()}, {when}")


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def run_one(name: str, bench: Callable[[], int]) -> tuple[list[Row], int, float]:
    """Run one benchmark with its stdout captured; (its rows, its exit status, seconds taken)."""
    buffer = io.StringIO()
    t0 = time.perf_counter()
    try:
        with contextlib.redirect_stdout(buffer):
            status = bench()
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - one failing benchmark must not stop the others
        status = 1
        print(buffer.getvalue(), file=sys.stderr)
        return [Row(name, f"failed: {type(exc).__name__}: {str(exc)[:200]}", "", "", "", "", "failed")], status, \
            time.perf_counter() - t0
    text = buffer.getvalue()
    print(f"----- hms bench {name} -----\n{text}", file=sys.stderr)
    rows = parse_table(name, text)
    if status != 0 and not any(r.verdict for r in rows):
        rows.append(Row(name, f"exit status {status}", "", "", "", "", "failed"))
    return rows or [Row(name, "no table printed", "", "", "", "", "failed")], status, time.perf_counter() - t0


def run_bench_all(settings: Settings, names: tuple[str, ...] | None = None) -> int:
    from deploy.bench import BENCHES, run_bench

    rows: list[Row] = []
    worst = 0
    for name in names or BENCHES:
        found, status, seconds = run_one(name, functools.partial(run_bench, settings, name, SIZES.get(name)))
        print(f"hms bench all: {name} done in {seconds:.0f} s (exit {status})", file=sys.stderr)
        rows += found
        worst = max(worst, 1 if status else 0)
    print(render(rows, machine_line()))
    return worst
