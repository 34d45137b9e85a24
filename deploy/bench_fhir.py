"""``hms bench fhir``: FHIR Bundle transactions in resources/s, next to the same inserts without FHIR.

Project side: transaction Bundles of Observations POSTed to the running stack's ``/fhir/r4`` over
HTTPS (token check, content negotiation, R4 validation, policy decision and ledger entry,
per-patient encryption, one database transaction per Bundle). Baseline: the very same
Observations stored by ``observations_repo.record_observation`` with the same cipher, one database
transaction per Bundle, no HTTP and no FHIR handling. The sides alternate for ``rounds`` rounds in
the same run and the medians are reported. Goal: ≥ 300 resources/s through FHIR.
"""
from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from sqlalchemy.orm import Session, sessionmaker

from activities.crypto.fields import FieldCipher
from activities.storage import observations_repo
from activities.storage.db import make_session_factory
from deploy import wiring
from deploy.settings import Settings

GOAL = 300.0
BUNDLE_SIZE = 50
CONCURRENCY = 4
ROUNDS = 3


def observation(patient_id: str, encounter_id: str, n: int) -> dict[str, Any]:
    """One synthetic lab result (a glucose value) with a unique accession identifier."""
    return {
        "resourceType": "Observation", "status": "final",
        "identifier": [{"system": "urn:hms:bench:accession", "value": f"{uuid.uuid4()}"}],
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                  "code": "laboratory"}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "2345-7", "display": "Glucose"}]},
        "subject": {"reference": f"Patient/{patient_id}"}, "encounter": {"reference": f"Encounter/{encounter_id}"},
        "effectiveDateTime": "2026-11-25T08:00:00Z",
        "valueQuantity": {"value": 4 + (n % 40) / 10, "unit": "mmol/L", "system": "http://unitsofmeasure.org",
                          "code": "mmol/L"},
    }


def bundles(patient_id: str, encounter_id: str, n: int) -> list[dict[str, Any]]:
    """``n`` Observations in transaction Bundles of ``BUNDLE_SIZE``."""
    out = []
    for start in range(0, n, BUNDLE_SIZE):
        entries = [{"fullUrl": f"urn:uuid:{uuid.uuid4()}", "resource": observation(patient_id, encounter_id, i),
                    "request": {"method": "POST", "url": "Observation"}}
                   for i in range(start, min(n, start + BUNDLE_SIZE))]
        out.append({"resourceType": "Bundle", "type": "transaction", "entry": entries})
    return out


async def fhir_seconds(post: Callable[[dict[str, Any]], Awaitable[httpx.Response]],
                       batch: list[dict[str, Any]]) -> float:
    """Seconds to POST every Bundle (``CONCURRENCY`` at a time); any non-200 stops the benchmark."""
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(bundle: dict[str, Any]) -> None:
        async with gate:
            r = await post(bundle)
            if r.status_code != 200:
                raise SystemExit(f"bench fhir: transaction → {r.status_code}: {r.text[:300]}")

    start = time.perf_counter()
    await asyncio.gather(*(one(b) for b in batch))
    return time.perf_counter() - start


def baseline_seconds(sessions: sessionmaker[Session], cipher: FieldCipher, batch: list[dict[str, Any]]) -> float:
    """Seconds to store the same Observations directly: one database transaction per Bundle."""
    start = time.perf_counter()
    for bundle in batch:
        with sessions() as s, s.begin():
            for entry in bundle["entry"]:
                observations_repo.record_observation(s, cipher, entry["resource"], recorded_by="bench")
    return time.perf_counter() - start


def report(n: int, rounds: int, fhir: list[float], base: list[float]) -> str:
    rate, base_rate = n / statistics.median(fhir), n / statistics.median(base)
    return "\n".join([
        f"| measure (n={n} Observations per round in Bundles of {BUNDLE_SIZE}, {rounds} alternating rounds, "
        f"{CONCURRENCY} Bundles in flight) | project | baseline | ratio |",
        "|---|---|---|---|",
        f"| resources/s: FHIR transaction over HTTPS (auth, validation, policy, ledger, encryption) vs the same "
        f"inserts without FHIR (median round) | {rate:.0f} | {base_rate:.0f} | {base_rate / rate:.2f} "
        f"(goal ≥ {GOAL:.0f}/s: {'met' if rate >= GOAL else 'NOT met'}) |",
    ])


async def _run(settings: Settings, n: int, rounds: int) -> str:
    from deploy.bench_security import _admit, _discharge
    from deploy.client import tls_context
    from deploy.tokens import issue_token

    started, attending = await _admit(settings)
    engine = wiring.database_engine(settings, pool_size=2)
    sessions, cipher = make_session_factory(engine), wiring.field_cipher(settings)
    headers = {"Authorization": f"Bearer {issue_token(settings, attending, 'attending_physician')}",
               "Content-Type": "application/fhir+json"}
    fhir: list[float] = []
    base: list[float] = []
    try:
        async with httpx.AsyncClient(base_url=settings.api_base_url, verify=tls_context(settings),
                                     timeout=120) as http:
            async def post(bundle: dict[str, Any]) -> httpx.Response:
                return await http.post("/fhir/r4", json=bundle, headers=headers)

            await fhir_seconds(post, bundles(started["patient_id"], started["encounter_id"], BUNDLE_SIZE))  # warm-up
            for _ in range(rounds):
                fhir.append(await fhir_seconds(post, bundles(started["patient_id"], started["encounter_id"], n)))
                base.append(await asyncio.to_thread(baseline_seconds, sessions, cipher,
                                                    bundles(started["patient_id"], started["encounter_id"], n)))
    finally:
        engine.dispose()
        await _discharge(settings, started["journey_id"], attending)
    return report(n, rounds, fhir, base)


def run_bench_fhir(settings: Settings, n: int, rounds: int = ROUNDS) -> int:
    """Run against the stack of ``HMS_HOME`` (``hms up``); prints a Markdown table; 0 when the goal is met."""
    table = asyncio.run(_run(settings, n, rounds))
    print(table)
    return 0 if "met)" in table and "NOT met" not in table else 1
