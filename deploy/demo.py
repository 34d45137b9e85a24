"""``hms demo --patients N``: N varied synthetic patients through complete journeys over the HTTPS API.

Scenarios come from ``deploy.demo_scenarios`` (deterministic by ``--seed``); each runs in
``deploy.demo_journey`` with every clinical role using its own token. At most ``--concurrency``
journeys run at once, and fewer per ward than it has beds, so nobody waits for a bed. A text
progress bar goes to stderr, the summary to stdout; the exit status is 0 only if all completed.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from pathlib import Path

from deploy.client import ApiClient, ApiError
from deploy.demo_journey import NOTES_PATH, JourneyDriver, Outcome
from deploy.demo_report import format_failures, format_summary, progress_line, report_json
from deploy.demo_scenarios import DEFAULT_SEED, Scenario, generate
from deploy.seed import WARDS
from deploy.settings import Settings

CONCURRENCY = 8
STEP_TIMEOUT = 120.0
JOURNEY_TIMEOUT = 900.0


async def notes_route(api: ApiClient) -> bool:
    """Whether this API has the patient-notes route (from its OpenAPI document)."""
    try:
        doc = await api.call("GET", "/openapi.json", "attending-1", "attending_physician")
    except ApiError:
        return False
    return NOTES_PATH in (doc.get("paths") or {})


class Progress:
    """A one-line text bar on stderr, redrawn per finished journey."""

    def __init__(self, total: int, stream=None) -> None:  # noqa: ANN001
        self.total, self.done, self.failed = total, 0, 0
        self.stream = stream or sys.stderr
        self.start = time.perf_counter()
        self._draw()

    def finished(self, ok: bool) -> None:
        self.done += 1
        self.failed += not ok
        self._draw()

    def close(self) -> None:
        self.stream.write("\n")
        self.stream.flush()

    def _draw(self) -> None:
        self.stream.write("\r" + progress_line(self.done, self.total, self.failed, time.perf_counter() - self.start))
        self.stream.flush()


async def run_all(api: ApiClient, scenarios: list[Scenario], *, concurrency: int, step_timeout: float,
                  journey_timeout: float, notes: bool, progress: Progress | None = None,
                  ward_caps: dict[str, int] | None = None) -> list[Outcome]:
    """Every scenario's outcome, in scenario order; a journey over its time budget is a failure.

    ``ward_caps`` bounds the journeys at once per ward (default: half its beds, so none waits for a bed).
    """
    gate = asyncio.Semaphore(concurrency)
    caps = ward_caps if ward_caps is not None else {w: max(1, beds // 2) for w, (_, beds) in WARDS.items()}
    wards = {w: asyncio.Semaphore(cap) for w, cap in caps.items() if cap > 0}

    async def one(s: Scenario) -> Outcome:
        async with wards.get(s.ward) or contextlib.nullcontext(), gate:
            driver = JourneyDriver(api, s, step_timeout=step_timeout, notes_route=notes)
            try:
                outcome = await asyncio.wait_for(driver.run(), timeout=journey_timeout)
            except TimeoutError:
                outcome = driver.outcome
                outcome.ok, outcome.reason = False, f"the journey took longer than {journey_timeout:g} s"
            except Exception as exc:  # noqa: BLE001 — one broken journey must not hide the others
                outcome = driver.outcome
                outcome.ok, outcome.reason = False, f"{type(exc).__name__}: {exc}"
        if progress is not None:
            progress.finished(outcome.ok)
        return outcome

    return list(await asyncio.gather(*(one(s) for s in scenarios)))


async def _demo(settings: Settings, patients: int, seed: int, concurrency: int, step_timeout: float,
                journey_timeout: float, report: Path | None) -> int:
    scenarios = generate(patients, seed)
    api = ApiClient(settings, limit=max(16, concurrency * 4))
    try:
        notes = await notes_route(api)
        await api.use_push({s.ward for s in scenarios})
        progress = Progress(len(scenarios))
        start = time.perf_counter()
        try:
            outcomes = await run_all(api, scenarios, concurrency=concurrency, step_timeout=step_timeout,
                                     journey_timeout=journey_timeout, notes=notes, progress=progress)
        finally:
            progress.close()
        elapsed = time.perf_counter() - start
    finally:
        await api.aclose()
    print(format_summary(outcomes, scenarios, seed=seed, concurrency=concurrency, elapsed=elapsed,
                         notes_route=notes))
    failures = format_failures(outcomes)
    for line in failures:
        print(line)
    if report is not None:
        report.write_text(json.dumps(report_json(outcomes, seed=seed, elapsed=elapsed), indent=2))
    return 1 if failures else 0


def run_demo(settings: Settings, patients: int, seed: int | None = None, concurrency: int = CONCURRENCY,
             step_timeout: float = STEP_TIMEOUT, journey_timeout: float = JOURNEY_TIMEOUT,
             report: str | None = None) -> int:
    if patients < 1:
        print("hms demo: --patients must be at least 1", file=sys.stderr)
        return 2
    if concurrency < 1 or step_timeout <= 0 or journey_timeout <= 0:
        print("hms demo: --concurrency and the timeouts must be positive", file=sys.stderr)
        return 2
    if not settings.ca_cert.exists():
        print(f"hms demo: no stack at HMS_HOME={settings.home_dir} (start it with `hms up --detach`)",
              file=sys.stderr)
        return 2
    seed = DEFAULT_SEED if seed is None else seed
    return asyncio.run(_demo(settings, patients, seed, concurrency, step_timeout, journey_timeout,
                             Path(report) if report else None))
