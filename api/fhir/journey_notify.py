"""Writes that matter to a journey reach it: a stored Observation for a stay is signalled to its journey.

After an Observation is committed (create, update, a transaction or a batch entry), the journey
of the encounter it names gets ``PatientJourney.result_posted`` (``results_posted`` for several
results of one request) with the observation's id, code,
status and interpretation (codes only; the value stays in the encrypted store), so a critical
result starts the physician's review (``workflows/result_review.py``). An encounter whose stay
is over, or whose journey no longer runs, is left alone: the result is stored either way.

The signal follows the commit, so a workflow engine that is down when it is sent costs the
journey that notice (the result is stored and searchable; the failure is logged, without ids
of patients or values). HL7 results take the durable path instead (the ingestion workflow
signals the journey from history).
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any

import sqlalchemy as sa
from starlette.concurrency import run_in_threadpool
from temporalio.service import RPCError, RPCStatusCode

from activities.storage.models import ACTIVE_ENCOUNTER_STATES, Encounter
from api.services import ApiServices
from workflows.contracts import ResultNotice

log = logging.getLogger(__name__)


def notices(resources: list[dict[str, Any]]) -> list[tuple[str, ResultNotice]]:
    """(encounter id, notice) for every Observation in ``resources`` that names an encounter."""
    out = []
    for r in resources:
        ref = (r.get("encounter") or {}).get("reference", "") if r.get("resourceType") == "Observation" else ""
        if not isinstance(ref, str) or not ref.startswith("Encounter/") or not r.get("id"):
            continue
        out.append((ref.removeprefix("Encounter/"), ResultNotice(
            observation_id=str(r["id"]), code=_first_code(r.get("code")) or "unknown",
            status=str(r.get("status") or "final"), interpretation=_first_code(r.get("interpretation")),
            source="fhir")))
    return out


def _first_code(concept: Any) -> str | None:
    if isinstance(concept, list):
        concept = concept[0] if concept else None
    codings = (concept or {}).get("coding") or [] if isinstance(concept, dict) else []
    for coding in codings:
        if isinstance(coding, dict) and isinstance(coding.get("code"), str):
            return coding["code"][:80]
    return None


def _journeys(services: ApiServices, encounter_ids: set[str]) -> dict[str, str]:
    with services.sessions() as s:
        rows = s.execute(sa.select(Encounter.id, Encounter.journey_id).where(
            Encounter.id.in_(encounter_ids), Encounter.status.in_(ACTIVE_ENCOUNTER_STATES))).all()
    return {r.id: r.journey_id for r in rows}


async def notify_results(services: ApiServices, resources: list[dict[str, Any]]) -> int:
    """Signal the journeys of the stored Observations; returns how many results were signalled.

    One signal per journey carries all of its results (``results_posted``), and the journeys are
    signalled side by side: a Bundle of fifty results for one stay costs one round trip to Temporal.
    """
    pending = notices(resources)
    if not pending or services.temporal is None:
        return 0
    journeys = await run_in_threadpool(_journeys, services, {enc for enc, _ in pending})
    batches: dict[str, list[ResultNotice]] = {}
    for encounter_id, notice in pending:
        journey_id = journeys.get(encounter_id)
        if journey_id is not None:
            batches.setdefault(journey_id, []).append(notice)
    sent = await asyncio.gather(*(_signal(services, journey_id, batch) for journey_id, batch in batches.items()))
    return sum(sent)


async def _signal(services: ApiServices, journey_id: str, batch: list[ResultNotice]) -> int:
    try:
        handle = services.client().get_workflow_handle(journey_id)
        if len(batch) == 1:  # one result: the signal every journey version knows
            await handle.signal("result_posted", batch[0])
        else:
            await handle.signal("results_posted", batch)
        return len(batch)
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:  # a journey that ended has nothing to do with it
            log.warning("results could not be signalled to their journey (%s)", exc.status.name)
        return 0
