"""``POST /journeys/{id}/discharge-plan`` goes through the journey: refused unless admitted, shown while it runs."""
from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest
import sqlalchemy as sa

from tests.integration.api.test_admissions_api import admission_body, admitted
from tests.integration.billing.helpers import eventually
from tests.integration.workflows.test_journey_discharge import make_ward

pytestmark = pytest.mark.integration
Auth = Callable[..., dict[str, str]]


def _care_team_of(engine: sa.Engine, journey_id: str) -> str | None:
    with engine.connect() as c:
        return c.execute(sa.text("SELECT care_team_id FROM hms.encounters WHERE journey_id = :j"),
                         {"j": journey_id}).scalar()


async def test_discharge_plan_is_refused_until_the_patient_is_admitted(
        api: httpx.AsyncClient, auth: Auth, db_engine: sa.Engine) -> None:
    ward = make_ward(db_engine, beds=0)
    clerk, attending = auth("registration-1", "registration_clerk"), auth("attending-1", "attending_physician")
    r = await api.post("/api/v1/admissions", json=admission_body(ward=ward), headers=clerk)
    assert r.status_code == 202, r.text
    journey_id = r.json()["journey_id"]
    # The stay has its care team (so the attending may act) but waits for a bed: not admitted yet.
    await eventually(lambda: asyncio.to_thread(_care_team_of, db_engine, journey_id))
    refused = await api.post(f"/api/v1/journeys/{journey_id}/discharge-plan", headers=attending)
    assert refused.status_code == 409 and "admission" in refused.json()["detail"], refused.text
    journey = (await api.get(f"/api/v1/journeys/{journey_id}", headers=attending)).json()
    assert journey["stage"] == "admission"


async def test_discharge_plan_runs_as_the_journeys_stage(api: httpx.AsyncClient, auth: Auth) -> None:
    clerk, attending = auth("registration-1", "registration_clerk"), auth("attending-1", "attending_physician")
    r = await api.post("/api/v1/admissions", json=admission_body(), headers=clerk)
    journey_id = r.json()["journey_id"]
    encounter_id = r.json()["encounter_id"]
    await admitted(api, auth, journey_id)
    plan = f"/api/v1/journeys/{journey_id}/discharge-plan"
    bad = await api.post(plan, json={"medication_orders": [""]}, headers=attending)
    assert bad.status_code == 422 and "medication_orders" in bad.json()["detail"]

    started = await api.post(plan, json={"medication_orders": ["rx-home-1"]}, headers=attending)
    assert started.status_code == 202, started.text
    body = started.json()
    assert (body["journey_id"], body["workflow_id"], body["status"]) == (
        journey_id, f"discharge-{encounter_id}", "started")
    assert set(body) == {"journey_id", "workflow_id", "status", "step", "blockers"}
    again = await api.post(plan, headers=attending)
    assert again.status_code == 202 and again.json()["status"] == "refreshed" and again.json()["blockers"] == []
    journey = (await api.get(f"/api/v1/journeys/{journey_id}", headers=attending)).json()
    assert journey["stage"] == "discharging"
    assert journey["discharge"]["kind"] == "discharge" and journey["discharge"]["status"] == "running"
    assert journey["discharge"]["workflow_id"] == f"discharge-{journey['encounter_id']}"
    # While the checklist runs, the direct discharge is refused too.
    order = await api.post(f"/api/v1/journeys/{journey_id}/discharge", json={}, headers=attending)
    assert order.status_code == 409

    async def med_rec_open() -> dict | None:
        tasks = (await api.get("/api/v1/tasks", params={"role": "attending_physician"}, headers=attending)).json()
        return next((t for t in tasks if t["journey_id"] == journey_id and t["type"] == "medication-reconciliation"),
                    None)

    task = await eventually(med_rec_open)
    assert task["details"] == {"orders": ["rx-home-1"]}
