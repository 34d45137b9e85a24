"""Triage and intake through the API: validation (422), overrides, duplicates (409), red-flag intake."""
from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

import httpx
import pytest

from tests.integration.api.test_admissions_api import admission_body, admitted
from tests.integration.triage.support import STABLE

pytestmark = pytest.mark.integration
Auth = Callable[..., dict[str, str]]
NURSE = ("triage-nurse-1", "triage_nurse")
CLERK = ("registration-1", "registration_clerk")


def person() -> dict:
    return {"identifier": f"ED-{uuid.uuid4().hex[:10]}", "given": "Meera", "family": "Nair",
            "birth_date": "1990-07-14", "gender": "female"}


async def task_of(api: httpx.AsyncClient, auth: Auth, task_id: str) -> dict:
    for _ in range(200):
        tasks = (await api.get("/api/v1/tasks", params={"ward": "emergency"}, headers=auth(*NURSE))).json()
        found = [t for t in tasks if t["id"] == task_id]
        if found:
            return found[0]
        await asyncio.sleep(0.05)
    raise AssertionError(f"task {task_id} never reached the triage nurse's inbox")


async def test_ed_arrival_triage_validation_override_and_duplicate(api: httpx.AsyncClient, auth: Auth) -> None:
    r = await api.post("/api/v1/triage", json={"patient": person()}, headers=auth(*CLERK))
    assert r.status_code == 202, r.text
    arrival = r.json()
    task = await task_of(api, auth, arrival["task_id"])
    assert task["type"] == "triage" and task["role"] == "triage_nurse" and task["due"]
    assert task["details"] == {"triage_id": arrival["triage_id"], "kind": "initial", "priority": "routine"}
    url = f"/api/v1/tasks/{task['id']}/complete"

    bad = await api.post(url, json={"vitals": {**STABLE, "spo2": 140}}, headers=auth(*NURSE))
    assert bad.status_code == 422 and "payload.vitals.spo2" in bad.json()["detail"]
    missing = await api.post(url, json={"esi": 3}, headers=auth(*NURSE))
    assert missing.status_code == 422 and "payload.vitals" in missing.json()["detail"]

    score = await api.post("/api/v1/triage/score", json=STABLE, headers=auth(*NURSE))
    suggested = score.json()["esi_suggested"]
    other = 2 if suggested != 2 else 3
    no_reason = await api.post(url, json={"vitals": STABLE, "esi": other}, headers=auth(*NURSE))
    assert no_reason.status_code == 422 and "override_reason" in no_reason.json()["detail"]
    wrong_role = await api.post(url, json={"vitals": STABLE}, headers=auth("attending-1", "attending_physician"))
    assert wrong_role.status_code == 403

    ok = await api.post(url, json={"vitals": STABLE, "esi": other, "override_reason": "anticoagulated, fell"},
                        headers=auth(*NURSE))
    assert ok.status_code == 200, ok.text
    result = ok.json()["result"]
    assert result["esi_suggested"] == suggested and result["esi_final"] == other and result["overridden"] is True
    again = await api.post(url, json={"vitals": STABLE}, headers=auth(*NURSE))
    assert again.status_code == 409

    view = await api.get(f"/api/v1/triage/{arrival['triage_id']}", headers=auth(*NURSE))
    assert view.status_code == 200 and view.json()["esi"] == other and view.json()["status"] == "monitoring"
    assert (await api.get(f"/api/v1/triage/{arrival['triage_id']}", headers=auth(*CLERK))).status_code == 403
    seen_url = f"/api/v1/triage/{arrival['triage_id']}/physician-seen"
    assert (await api.post(seen_url, headers=auth("attending-2", "attending_physician"))).status_code == 403
    seen = await api.post(seen_url, headers=auth("attending-1", "attending_physician"))
    assert seen.status_code == 200 and seen.json()["physician_seen_by"] == "attending-1"


async def test_intake_red_flag_ends_early_with_urgent_triage_task(api: httpx.AsyncClient, auth: Auth) -> None:
    r = await api.post("/api/v1/intake", json={"patient": person(), "complaint": "really bad headache"},
                       headers=auth(*CLERK))
    assert r.status_code == 201, r.text
    step = r.json()
    intake_id = step["intake_id"]
    assert step["status"] == "in-progress" and step["question"]["id"] == "sudden"
    url = f"/api/v1/intake/{intake_id}/answers"
    bad = await api.post(url, json={"answer": "perhaps"}, headers=auth(*CLERK))
    assert bad.status_code == 422 and "yes or no" in bad.json()["detail"]
    stale = await api.post(url, json={"answer": True, "question_id": "fever"}, headers=auth(*CLERK))
    assert stale.status_code == 422 and "sudden" in stale.json()["detail"]

    flagged = await api.post(url, json={"answer": "yes", "question_id": "sudden"}, headers=auth(*CLERK))
    assert flagged.status_code == 200, flagged.text
    end = flagged.json()
    assert end["status"] == "red-flag" and end["red_flags"] == ["thunderclap_headache"]
    assert end["esi_suggested"] == 2 and end["question"] is None and end["triage_id"] == intake_id
    assert (await api.post(url, json={"answer": "no"}, headers=auth(*CLERK))).status_code == 409

    task = await task_of(api, auth, f"triage-{intake_id}")
    assert task["details"]["priority"] == "urgent" and task["details"]["intake_id"] == intake_id
    assert task["details"]["intake_red_flags"] == ["thunderclap_headache"]
    assert all(not isinstance(v, str) or " " not in v for v in task["details"].values())  # codes, no free text

    assert (await api.get(f"/api/v1/intake/{intake_id}", headers=auth(*CLERK))).status_code == 403
    draft = await api.get(f"/api/v1/intake/{intake_id}", headers=auth(*NURSE))
    assert draft.status_code == 200 and draft.json()["answers"] == {"sudden": True}
    assert draft.json()["category"] == "headache"


async def test_intake_completes_and_prefills_routine_triage(api: httpx.AsyncClient, auth: Auth) -> None:
    r = await api.post("/api/v1/intake", json={"patient": person(), "complaint": "fell and hurt my wrist"},
                       headers=auth(*NURSE))
    step = r.json()
    answers = {"mechanism": "fall", "knocked_out": False, "bleeding": "no", "weight_bearing": True,
               "severity": 5, "anything_else": "no chest pain"}
    while step["status"] == "in-progress":
        qid = step["question"]["id"]
        reply = await api.post(f"/api/v1/intake/{step['intake_id']}/answers", json={"answer": answers[qid]},
                               headers=auth(*NURSE))
        assert reply.status_code == 200, reply.text
        step = reply.json()
    assert step["status"] == "completed" and step["red_flags"] == [] and step["esi_suggested"] == 4
    task = await task_of(api, auth, f"triage-{step['intake_id']}")
    assert task["details"]["priority"] == "routine" and task["details"]["intake_esi_suggested"] == 4
    assert task["details"]["complaint_category"] == "injury"


async def test_triage_as_a_journey_stage(api: httpx.AsyncClient, auth: Auth) -> None:
    r = await api.post("/api/v1/admissions", json=admission_body(ward="emergency"), headers=auth(*CLERK))
    journey_id = r.json()["journey_id"]
    await admitted(api, auth, journey_id)
    bad = await api.post(f"/api/v1/journeys/{journey_id}/triage", json={"age": 300},
                         headers=auth("attending-1", "attending_physician"))
    assert bad.status_code == 422
    started = await api.post(f"/api/v1/journeys/{journey_id}/triage", json={"priority": "urgent"},
                             headers=auth("attending-1", "attending_physician"))
    assert started.status_code == 202, started.text
    body = started.json()
    assert body["workflow_id"] == f"triage-{body['triage_id']}"
    task = await task_of(api, auth, body["task_id"])
    assert task["journey_id"] == journey_id and task["details"]["priority"] == "urgent"
    done = await api.post(f"/api/v1/tasks/{task['id']}/complete", json={"vitals": STABLE}, headers=auth(*NURSE))
    assert done.status_code == 200, done.text
    await api.post(f"/api/v1/journeys/{journey_id}/discharge", json={},
                   headers=auth("attending-1", "attending_physician"))
