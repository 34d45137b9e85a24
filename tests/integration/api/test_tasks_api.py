"""The task inbox over the API: scoped listing and completion through a validated workflow update."""
from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

import httpx
import pytest
import sqlalchemy as sa

from tests.integration.api.test_admissions_api import admission_body, admitted

pytestmark = pytest.mark.integration
Auth = Callable[..., dict[str, str]]


@pytest.fixture
def full_ward(db_engine: sa.Engine) -> str:
    """A ward with no bed, staffed by care team A and nurse-medical-1."""
    ward = f"full-{uuid.uuid4().hex[:6]}"
    with db_engine.begin() as c:
        c.execute(sa.text("INSERT INTO hms.wards (id, name) VALUES (:w, 'Full ward')"), {"w": ward})
        c.execute(sa.text("UPDATE hms.care_teams SET wards = array_append(wards, :w) WHERE id = 'team-a'"), {"w": ward})
        c.execute(sa.text("UPDATE hms.users SET wards = array_append(wards, :w) WHERE id = 'nurse-medical-1'"),
                  {"w": ward})
    return ward


async def test_bed_task_listed_and_completed(api: httpx.AsyncClient, auth: Auth, db_engine: sa.Engine,
                                            full_ward: str) -> None:
    api._transport.app.state.services.bed_wait_deadline_seconds = 1  # type: ignore[attr-defined]
    api._transport.app.state.services.directory._cache.clear()  # type: ignore[attr-defined]
    r = await api.post("/api/v1/admissions", json=admission_body(ward=full_ward),
                       headers=auth("registration-1", "registration_clerk"))
    assert r.status_code == 202, r.text
    journey_id = r.json()["journey_id"]
    nurse = auth("nurse-medical-1", "nurse")
    for _ in range(100):
        tasks = (await api.get("/api/v1/tasks", params={"ward": full_ward}, headers=nurse)).json()
        if tasks:
            break
        await asyncio.sleep(0.1)
    assert len(tasks) == 1, tasks
    task = tasks[0]
    assert task["type"] == "bed-management" and task["role"] == "nurse" and task["journey_id"] == journey_id
    assert task["due"] is not None

    # Other roles and other wards do not see it; asking for another role's inbox is refused.
    assert (await api.get("/api/v1/tasks", headers=auth("attending-1", "attending_physician"))).json() == [] or all(
        t["role"] == "attending_physician" for t in (await api.get("/api/v1/tasks",
                                                                   headers=auth("attending-1", "attending_physician"))).json())
    other_nurse = auth("nurse-psychiatry-1", "nurse")
    assert task["id"] not in {t["id"] for t in (await api.get("/api/v1/tasks", headers=other_nurse)).json()}
    assert (await api.get("/api/v1/tasks", params={"role": "nurse"},
                          headers=auth("attending-1", "attending_physician"))).status_code == 403

    url = f"/api/v1/tasks/{task['id']}/complete"
    bad = await api.post(url, json={"bed": "x"}, headers=nurse)
    assert bad.status_code == 422 and "bed_id" in bad.json()["detail"]
    wrong_role = await api.post(url, json={"bed_id": f"{full_ward}-01"}, headers=auth("attending-1", "attending_physician"))
    assert wrong_role.status_code == 403
    not_free = await api.post(url, json={"bed_id": f"{full_ward}-01"}, headers=nurse)
    assert not_free.status_code == 409 and "not free" in not_free.json()["detail"]

    with db_engine.begin() as c:
        c.execute(sa.text("INSERT INTO hms.beds (id, ward_id, label) VALUES (:b, :w, '01')"),
                  {"b": f"{full_ward}-01", "w": full_ward})
    ok = await api.post(url, json={"bed_id": f"{full_ward}-01"}, headers=nurse)
    assert ok.status_code == 200, ok.text
    assert ok.json() == {"task_id": task["id"], "status": "completed", "result": {"bed_id": f"{full_ward}-01"}}
    twice = await api.post(url, json={"bed_id": f"{full_ward}-01"}, headers=nurse)
    assert twice.status_code == 409 and "already completed" in twice.json()["detail"]

    journey = await admitted(api, auth, journey_id)
    assert journey["bed_id"] == f"{full_ward}-01"
    assert [t["status"] for t in journey["tasks"]] == ["completed"]
    await api.post(f"/api/v1/journeys/{journey_id}/discharge", json={}, headers=auth("attending-1", "attending_physician"))
