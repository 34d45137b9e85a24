"""``hms bench all`` folds every benchmark's own table into one: parsing, rendering, the machine line."""
from __future__ import annotations

from datetime import UTC, datetime

from deploy.bench_all import Row, machine_line, parse_table, render, run_one

ADMISSION = """\
| measure (n=40 per round, 3 alternating rounds, concurrency 8) | project | baseline | ratio |
|---|---|---|---|
| admissions/s: API+policy+workflow+audit vs bare workflow (median round) | 21.3 | 30.1 | 1.41 (goal ≤ 1.5: met) |
| ratio per round, sorted | | | 1.38, 1.41, 1.52 |
"""

POLICY = """\
| measure (n=20000 decisions over 80 distinct inputs, 40 allowed) | project | baseline | ratio |
|---|---|---|---|
| decision p50 µs: Rego bundle behind the cache vs dict lookup | 3.1 | 0.40 | 8 |
| goal: embedded p50 ≤ 100 µs | 3.1 | | goal met |
"""

IMAGING = """\
imaging-triage: 30 simulated days, 4500 studies (900 abnormal), seed 1
| time to report (min) | FIFO | AI priority | change |
|---|---|---|---|
| mean, abnormal studies | 80.0 | 40.0 | -50.0% |
reduction of mean time-to-report for abnormal studies: 50.0%
"""

INFERENCE = """\
| model | p50 ms | p99 ms |
| --- | --- | --- |
| triage | 0.120 | 0.300 |
"""

NOT_MET = "| measure (n=1) | project | baseline | ratio |\n|---|---|---|---|\n| x/s | 1 | 2 | 0.50 (goal ≥ 300/s: NOT met) |\n"


def test_standard_table_keeps_columns_and_splits_goal_and_verdict() -> None:
    rows = parse_table("admission", ADMISSION)
    assert rows[0] == Row("admission", "admissions/s: API+policy+workflow+audit vs bare workflow (median round) "
                          "[n=40 per round, 3 alternating rounds, concurrency 8]", "21.3", "30.1", "1.41",
                          "≤ 1.5", "met")
    assert rows[1].ratio == "1.38, 1.41, 1.52" and rows[1].verdict == ""
    assert rows[1].measure == "ratio per round, sorted"
    assert parse_table("fhir", NOT_MET)[0].verdict == "NOT met"
    assert parse_table("fhir", NOT_MET)[0].goal == "≥ 300/s"


def test_goal_row_without_ratio() -> None:
    rows = parse_table("policy", POLICY)
    assert rows[1].verdict == "met" and rows[1].ratio == "" and "100 µs" in rows[1].goal


def test_other_table_shapes() -> None:
    (imaging,) = parse_table("imaging-triage", IMAGING)
    assert (imaging.project, imaging.baseline, imaging.ratio) == ("40.0", "80.0", "-50.0%")
    assert "AI priority vs FIFO" in imaging.measure
    (inference,) = parse_table("inference", INFERENCE)
    assert inference.measure == "triage (p50 ms / p99 ms)" and inference.project == "0.120 / 0.300"


def test_render_one_table_and_the_machine() -> None:
    rows = parse_table("admission", ADMISSION) + parse_table("imaging-triage", IMAGING)
    text = render(rows, "machine: test")
    lines = text.splitlines()
    assert lines[0] == "| bench | measure | project | baseline | ratio | goal | verdict |"
    assert len([line for line in lines if line.startswith("|")]) == 2 + len(rows)
    assert all(line.count("|") - line.count("\\|") == 8 for line in lines if line.startswith("|"))
    assert lines[-1] == "machine: test"


def test_machine_line_reads_proc() -> None:
    line = machine_line("processor : 0\nmodel name : Test CPU @ 2.0GHz\n", "MemTotal:  8388608 kB\n",
                        datetime(2026, 11, 26, 1, 2, tzinfo=UTC))
    assert "Test CPU @ 2.0GHz" in line and "8.0 GiB RAM" in line and "2026-11-26 01:02 UTC" in line
    assert "Python 3." in line and "cores" in line


def test_run_one_captures_the_table_and_survives_a_failure() -> None:
    def ok() -> int:
        print(ADMISSION)
        return 0

    def boom() -> int:
        raise SystemExit("bench x: no free bed")

    rows, status, _ = run_one("admission", ok)
    assert status == 0 and rows[0].project == "21.3"
    rows, status, _ = run_one("x", boom)
    assert status == 1 and rows[0].verdict == "failed" and "no free bed" in rows[0].measure
