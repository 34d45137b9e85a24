"""The admission spine through the API: auth → policy → durable workflow → audit."""
from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

import httpx
import pytest

from ledger.embedded import EmbeddedLedger

pytestmark = pytest.mark.integration
Auth = Callable[..., dict[str, str]]


def admission_body(ward: str = "medical", identifier: str | None = None) -> dict:
    return {"patient": {"identifier": identifier or f"MRN-{uuid.uuid4().hex[:10]}", "given": "Ravi",
                        "family": "Iyer", "birth_date": "1975-02-03", "gender": "male"},
            "ward": ward, "reason": "chest pain under observation", "consent": True}


async def admitted(api: httpx.AsyncClient, auth: Auth, journey_id: str, user: str = "attending-1",
                   role: str = "attending_physician") -> dict:
    for _ in range(300):
        r = await api.get(f"/api/v1/journeys/{journey_id}", headers=auth(user, role))
        if r.status_code == 200 and r.json()["stage"] in ("admitted", "discharged"):
            return r.json()
        await asyncio.sleep(0.1)
    raise AssertionError(f"journey {journey_id} not admitted: {r.status_code} {r.text}")


async def test_admission_end_to_end(api: httpx.AsyncClient, auth: Auth, ledger: EmbeddedLedger) -> None:
    before = ledger.size()
    r = await api.post("/api/v1/admissions", json=admission_body(), headers=auth("registration-1", "registration_clerk"))
    assert r.status_code == 202, r.text
    out = r.json()
    assert out["journey_id"] == f"journey-{out['encounter_id']}"
    journey = await admitted(api, auth, out["journey_id"])
    assert journey["status"] == "in-progress" and journey["bed_id"].startswith("medical-")

    patient = await api.get(f"/api/v1/patients/{out['patient_id']}", headers=auth("attending-1", "attending_physician"))
    assert patient.status_code == 200 and patient.json()["encounter"]["status"] == "in-progress"
    assert patient.json()["family"] == "Iyer"

    # attending-2 is on the other care team: denied, and the denial is recorded too.
    denied = await api.get(f"/api/v1/patients/{out['patient_id']}", headers=auth("attending-2", "attending_physician"))
    assert denied.status_code == 403 and denied.json()["detail"]
    entries = [e.event for e in ledger.query(patient_id=out["patient_id"]) if e.event.source == "api"]
    assert [(e.subtype, e.decision) for e in entries][:1] == [("admission.create", "allow")]
    assert ("patient.read", "deny") in {(e.subtype, e.decision) for e in entries}
    assert all("Iyer" not in e.reason for e in entries)
    assert ledger.size() > before and ledger.verify().ok

    again = await api.post("/api/v1/admissions", json=admission_body(identifier=patient.json()["identifiers"][0]["value"])
                           | {"reason": "chest pain under observation"},
                           headers=auth("registration-1", "registration_clerk"))
    assert again.status_code == 200 and again.json()["journey_id"] == out["journey_id"]

    d = await api.post(f"/api/v1/journeys/{out['journey_id']}/discharge", json={},
                       headers=auth("attending-1", "attending_physician"))
    assert d.status_code == 202, d.text
    for _ in range(100):
        j = (await api.get(f"/api/v1/journeys/{out['journey_id']}", headers=auth("attending-1", "attending_physician"))).json()
        if j["status"] == "completed":
            break
        await asyncio.sleep(0.1)
    assert j["stage"] == "discharged"


async def test_identical_requests_start_one_journey(api: httpx.AsyncClient, auth: Auth) -> None:
    body = admission_body()
    headers = auth("registration-1", "registration_clerk")
    first, second = await asyncio.gather(api.post("/api/v1/admissions", json=body, headers=headers),
                                         api.post("/api/v1/admissions", json=body, headers=headers))
    assert {first.status_code, second.status_code} <= {200, 202}
    assert first.json()["journey_id"] == second.json()["journey_id"]
    assert first.json()["patient_id"] == second.json()["patient_id"]
    await admitted(api, auth, first.json()["journey_id"])
    await api.post(f"/api/v1/journeys/{first.json()['journey_id']}/discharge", json={},
                   headers=auth("attending-1", "attending_physician"))


@pytest.mark.parametrize(("mutate", "field"), [
    (lambda b: b.pop("ward"), "ward"),
    (lambda b: b["patient"].update(birth_date="1975-13-40"), "patient.birth_date"),
    (lambda b: b["patient"].update(birth_date="2999-01-01"), "patient.birth_date"),
    (lambda b: b["patient"].pop("family"), "patient.family"),
    (lambda b: b["patient"].update(gender="x"), "patient.gender"),
    (lambda b: b.update(ward="nowhere"), "ward"),
    (lambda b: b.update(consent=False), "consent"),
])
async def test_bad_admission_is_422_naming_the_field(api: httpx.AsyncClient, auth: Auth, ledger: EmbeddedLedger,
                                                     mutate: Callable[[dict], object], field: str) -> None:
    body = admission_body()
    mutate(body)
    size = ledger.size()
    r = await api.post("/api/v1/admissions", json=body, headers=auth("registration-1", "registration_clerk"))
    assert r.status_code == 422 and field in r.json()["detail"], r.text
    assert ledger.size() == size  # nothing touched, nothing recorded


async def test_malformed_json_and_auth_errors(api: httpx.AsyncClient, auth: Auth) -> None:
    headers = auth("registration-1", "registration_clerk") | {"Content-Type": "application/json"}
    r = await api.post("/api/v1/admissions", content=b"{not json", headers=headers)
    assert r.status_code == 422
    assert (await api.post("/api/v1/admissions", json=admission_body())).status_code == 401
    bad = {"Authorization": "Bearer not-a-token"}
    assert (await api.get("/api/v1/tasks", headers=bad)).status_code == 401
    expired = auth("registration-1", "registration_clerk", ttl=-60)
    r = await api.get("/api/v1/tasks", headers=expired)
    assert r.status_code == 401 and "expired" in r.json()["detail"]
    # A clinical role cannot start an admission; billing cannot either.
    r = await api.post("/api/v1/admissions", json=admission_body(), headers=auth("billing-1", "billing_clerk"))
    assert r.status_code == 403


async def test_unknown_ids_are_404(api: httpx.AsyncClient, auth: Auth) -> None:
    h = auth("attending-1", "attending_physician")
    assert (await api.get(f"/api/v1/journeys/journey-{uuid.uuid4()}", headers=h)).status_code == 404
    assert (await api.get(f"/api/v1/patients/{uuid.uuid4()}", headers=h)).status_code == 404
    assert (await api.post(f"/api/v1/tasks/{uuid.uuid4()}/complete", json={}, headers=h)).status_code == 404
    assert (await api.get("/healthz")).status_code == 200
