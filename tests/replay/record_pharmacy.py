"""Record the committed PharmacyWorkflow histories that CI replays (run by hand when it changes on purpose).

    HMS_TEST_DATABASE_URL=postgresql://... .venv/bin/python -m tests.replay.record_pharmacy

In one admitted journey: warfarin is ordered and approved; aspirin is ordered, flagged
(IX-WARF-ASA) and approved with an override reason; its first dose is given, the second
is left unrecorded past its grace (escalated to the attending, acknowledged), then the
attending cancels the order (stock returned). Discharge then cancels the warfarin stage
(compensation on cancellation). Each dispense is charged once (``dispense:<order id>``).

``pharmacy_override_missed_cancel.json`` and ``pharmacy_cancelled_at_discharge.json`` were recorded
before the ``pharmacy-dispense-charge`` patch and stay committed, so the unpatched path keeps
replaying; this script writes the patched ``pharmacy_charged_*`` ones.
"""
from __future__ import annotations

import asyncio

from tests.integration.conftest import journey_worker
from tests.integration.pharmacy.conftest import admit, complete, give, open_task, order, verify
from tests.replay.harness import OUT, recording
from workflows.contracts import DischargeRequest
from workflows.journey import PatientJourney
from workflows.pharmacy import PharmacyWorkflow
from workflows.pharmacy_contracts import CancelOrder

WARFARIN = {"drug_code": "11289", "dose": 5, "unit": "mg", "route": "PO", "frequency_hours": 24, "doses": 3}
ASPIRIN = {"drug_code": "1191", "dose": 75, "unit": "mg", "route": "PO", "frequency_hours": 8, "doses": 4}


async def main() -> None:
    async with recording() as rec:
        env, engine, ledger = rec.env, rec.engine, rec.ledger
        queue = "record-pharmacy"
        async with journey_worker(env, engine, ledger, queue):
            journey, _ = await admit(env, queue)
            warfarin = await order(env, journey, WARFARIN)
            await verify(engine, warfarin)
            await give(engine, warfarin)
            aspirin = await order(env, journey, ASPIRIN)
            await verify(engine, aspirin, decision="approve", override_reason="post-stent; INR monitored daily")
            await give(engine, aspirin)
            await env.sleep(10 * 3600)
            escalation = await open_task(engine, aspirin.id, "missed-dose")
            await complete(aspirin, escalation["id"], "attending-1", "attending_physician",
                           {"decision": "continue", "reason": "reviewed"})
            await aspirin.execute_update(PharmacyWorkflow.cancel_order,
                                         CancelOrder(requested_by="attending-1", reason="bleeding risk"))
            await aspirin.result()
            OUT.joinpath("pharmacy_charged_override_missed_cancel.json").write_text((await aspirin.fetch_history()).to_json())
            await journey.signal(PatientJourney.discharge, DischargeRequest(requested_by="attending-1"))
            await journey.result()
            OUT.joinpath("pharmacy_charged_cancelled_at_discharge.json").write_text((await warfarin.fetch_history()).to_json())


if __name__ == "__main__":
    asyncio.run(main())
