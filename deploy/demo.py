"""``hms demo --patients N``: N synthetic patients go through their journeys over the HTTPS API."""
from __future__ import annotations

import asyncio
import sys

from deploy.client import ApiClient
from deploy.settings import Settings

CONCURRENCY = 8


async def _one(api: ApiClient, n: int, gate: asyncio.Semaphore) -> tuple[str, str]:
    async with gate:
        started = await api.admit(n)
        admitted = await api.wait_stage(started["journey_id"], "attending-1", ("admitted",), timeout=300)
        if admitted["status"] == "failed":
            return started["journey_id"], f"failed: {admitted.get('failure')}"
        attending = admitted["attending"]
        await api.discharge(started["journey_id"], attending)
        done = await api.wait_stage(started["journey_id"], attending, ("discharged",), timeout=120)
        return started["journey_id"], "completed" if done["status"] == "completed" else done["status"]


async def _demo(settings: Settings, patients: int) -> int:
    api = ApiClient(settings)
    gate = asyncio.Semaphore(CONCURRENCY)
    try:
        results = await asyncio.gather(*(_one(api, n, gate) for n in range(patients)), return_exceptions=True)
    finally:
        await api.aclose()
    completed = 0
    for result in results:
        if isinstance(result, BaseException):
            print(f"journey error: {type(result).__name__}: {result}", file=sys.stderr)
            continue
        journey_id, outcome = result
        completed += outcome == "completed"
        print(f"{journey_id}: {outcome}")
    print(f"{completed}/{patients} journeys completed")
    return 0 if completed == patients else 1


def run_demo(settings: Settings, patients: int) -> int:
    if patients < 1:
        print("hms demo: --patients must be at least 1", file=sys.stderr)
        return 2
    return asyncio.run(_demo(settings, patients))
