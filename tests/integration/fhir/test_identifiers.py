"""Business identifiers of FHIR creates (DocumentReference, ChargeItem, ServiceRequest, MedicationRequest): kept
sealed when the create is accepted, served on read and search, found by the ``identifier`` search parameter."""
from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

import httpx
import pytest
import sqlalchemy as sa

from activities.storage import identifiers_repo
from deploy.settings import Settings
from deploy.tokens import issue_token
from tests.integration.api.conftest import api, api_settings  # noqa: F401  (the API app with a workflow engine)
from tests.integration.api.test_admissions_api import admission_body
from tests.integration.api.test_admissions_api import admitted as journey_admitted
from tests.integration.fhir.conftest import FHIR, valid
from tests.integration.fhir.order_bodies import imaging_order, medication_order
from tests.integration.fhir.test_charge_writes import charge
from tests.integration.fhir.test_document_writes import document

JSON = {"Content-Type": FHIR}
DOC_SYSTEM = "urn:hms:test-doc"


def _stored(services, rtype: str, rid: str) -> list[bytes]:  # noqa: ANN001
    with services.sessions() as s:
        return [bytes(b) for b in s.scalars(sa.text(
            "SELECT element FROM hms.resource_identifiers WHERE resource_type = :t AND resource_id = :i "
            "ORDER BY position"), {"t": rtype, "i": rid})]


async def _ids(client: httpx.AsyncClient, url: str, headers: dict[str, str]) -> list[str]:
    r = await client.get(url, headers=headers)
    assert r.status_code == 200, r.text
    return [valid(e["resource"])["id"] for e in r.json().get("entry", [])]


async def test_a_note_serves_and_finds_its_identifiers(fhir, fhir_services, auth, admitted):  # noqa: ANN001, F811
    stay = admitted()
    h = {**auth("attending-1", "attending_physician"), **JSON}
    value, bare = f"DOC-{uuid.uuid4().hex}", f"LOCAL-{uuid.uuid4().hex[:8]}"
    body = {**document(stay.patient_id, encounter_id=stay.encounter_id),
            "identifier": [{"system": DOC_SYSTEM, "value": value}, {"value": bare}]}
    first = await fhir.post("/fhir/r4/DocumentReference", json=body, headers=h)
    again = await fhir.post("/fhir/r4/DocumentReference", json=body, headers=h)
    assert (first.status_code, again.status_code) == (201, 200), again.text
    note_id = first.json()["id"]
    assert again.json()["id"] == note_id and first.json()["identifier"] == body["identifier"]

    read = await fhir.get(f"/fhir/r4/DocumentReference/{note_id}", headers=h)
    assert read.status_code == 200 and valid(read.json())["identifier"] == body["identifier"]
    sealed = _stored(fhir_services, "DocumentReference", note_id)
    assert len(sealed) == 2 and not any(value.encode() in b or bare.encode() in b for b in sealed)

    found = "/fhir/r4/DocumentReference?identifier="
    assert await _ids(fhir, f"{found}{DOC_SYSTEM}|{value}", h) == [note_id]
    assert await _ids(fhir, f"{found}{value}", h) == [note_id]  # a bare value: any system
    assert await _ids(fhir, f"{found}|{bare}", h) == [note_id]  # |value: an identifier without a system
    assert await _ids(fhir, f"{found}|{value}", h) == []
    assert await _ids(fhir, f"{found}urn:other|{value}", h) == []
    assert await _ids(fhir, f"{found}nothing,{value}&patient={stay.patient_id}", h) == [note_id]
    assert await _ids(fhir, f"{found}{value}&identifier={bare}", h) == [note_id]
    assert await _ids(fhir, f"{found}{value}&identifier=nothing", h) == []
    bad = await fhir.get(f"{found}{DOC_SYSTEM}|", headers=h)
    assert bad.status_code == 400 and bad.json()["resourceType"] == "OperationOutcome"
    assert not (await fhir.get(f"{found}{value}", headers=auth("billing-1", "billing_clerk"))).json().get("entry")


async def test_a_charge_keeps_its_identifier_and_the_capability_statement_says_so(fhir, fhir_services, auth,
                                                                                  admitted):  # noqa: ANN001, F811
    stay = admitted()
    clerk = {**auth("billing-1", "billing_clerk"), **JSON}
    body = charge(stay.patient_id, stay.encounter_id)
    first = await fhir.post("/fhir/r4/ChargeItem", json=body, headers=clerk)
    assert first.status_code == 201, first.text
    created = valid(first.json())
    again = await fhir.post("/fhir/r4/ChargeItem", json={**body, "priceOverride": created["priceOverride"]},
                            headers=clerk)
    assert again.status_code == 200 and again.json()["identifier"] == body["identifier"]
    assert len(_stored(fhir_services, "ChargeItem", created["id"])) == 1
    value = body["identifier"][0]["value"]
    assert await _ids(fhir, f"/fhir/r4/ChargeItem?identifier=urn:ris:accession|{value}", clerk) == [created["id"]]

    statement = (await fhir.get("/fhir/r4/metadata")).json()
    params = {r["type"]: {p["name"]: p["type"] for p in r["searchParam"]} for r in statement["rest"][0]["resource"]}
    for rtype in ("ServiceRequest", "MedicationRequest", "DocumentReference", "ChargeItem"):
        assert params[rtype]["identifier"] == "token", rtype


async def test_an_order_refused_before_its_stage_keeps_no_identifier(fhir, fhir_services, auth,
                                                                     admitted):  # noqa: ANN001, F811
    stay = admitted()
    h = {**auth("attending-1", "attending_physician"), **JSON}
    r = await fhir.post("/fhir/r4/ServiceRequest", json=imaging_order(stay.patient_id, identifier="RIS-1"), headers=h)
    assert r.status_code == 503  # no workflow engine in this app: not accepted, nothing kept
    with fhir_services.sessions() as s:
        assert s.scalar(sa.text("SELECT count(*) FROM hms.resource_identifiers WHERE patient_id = :p"),
                        {"p": stay.patient_id}) == 0


def test_the_same_identifier_of_two_patients_is_two_entries(fhir_services, admitted):  # noqa: ANN001, F811
    first, second = admitted(), admitted()
    cipher, element = fhir_services.field_cipher, {"system": "urn:lab:placer", "value": "P-1001"}
    with fhir_services.sessions() as s, s.begin():
        for stay, rid in ((first, "a-1"), (second, "b-1")):
            assert identifiers_repo.record(s, cipher, resource_type="Test", resource_id=rid,
                                           patient_id=stay.patient_id, identifiers=[element])
        assert not identifiers_repo.record(s, cipher, resource_type="Test", resource_id="a-1",
                                           patient_id=first.patient_id, identifiers=[element])
        with pytest.raises(identifiers_repo.IdentifierConflict):
            identifiers_repo.record(s, cipher, resource_type="Test", resource_id="a-1",
                                    patient_id=second.patient_id, identifiers=[element])
    with fhir_services.sessions() as s:
        assert identifiers_repo.matching(s, cipher, "Test", "urn:lab:placer", "P-1001") == {"a-1", "b-1"}
        assert identifiers_repo.matching(s, cipher, "Test", None, "P-1001") == {"a-1", "b-1"}
        assert identifiers_repo.matching(s, cipher, "Other", None, "P-1001") == set()
        assert identifiers_repo.of_resources(s, cipher, "Test", ["a-1", "b-1"]) == {"a-1": [element],
                                                                                   "b-1": [element]}


@pytest.fixture
def api_auth(api_settings: Settings) -> Callable[[str, str], dict[str, str]]:  # noqa: F811
    return lambda user, role: {"Authorization": f"Bearer {issue_token(api_settings, user, role)}",
                               "Accept": FHIR, **JSON}


async def _recorded(client: httpx.AsyncClient, url: str, headers: dict[str, str]) -> dict:
    for _ in range(300):  # the order row appears once the stage's first activity ran
        r = await client.get(url, headers=headers)
        if r.status_code != 404:
            assert r.status_code == 200, r.text
            return r.json()
        await asyncio.sleep(0.1)
    raise AssertionError(f"{url} was never recorded")


async def test_orders_of_two_patients_with_one_placer_number_are_two_orders(api, api_auth):  # noqa: ANN001, F811
    registration = api_auth("registration-1", "registration_clerk")
    stays = []
    for _ in range(2):
        started = await api.post("/api/v1/admissions", json=admission_body(), headers=registration)
        assert started.status_code in (201, 202), started.text
        stays.append(started.json())
        await journey_admitted(api, api_auth, stays[-1]["journey_id"])
    doctor = api_auth("attending-1", "attending_physician")
    placer = f"RIS-{uuid.uuid4().hex}"
    ids = []
    for stay in stays:
        body = imaging_order(stay["patient_id"], identifier=placer)
        first = await api.post("/fhir/r4/ServiceRequest", json=body, headers=doctor)
        again = await api.post("/fhir/r4/ServiceRequest", json=body, headers=doctor)
        assert first.status_code == again.status_code == 202, (first.text, again.text)
        assert first.headers["content-location"] == again.headers["content-location"]
        ids.append(first.headers["content-location"].rsplit("/", 1)[1])
    assert ids[0] != ids[1]
    for stay, rid in zip(stays, ids, strict=True):
        order = await _recorded(api, f"/fhir/r4/ServiceRequest/{rid}", doctor)
        assert order["subject"] == {"reference": f"Patient/{stay['patient_id']}"}
        assert order["identifier"] == [{"system": "urn:hms:test-order", "value": placer}]
    token = f"urn:hms:test-order|{placer}"
    assert sorted(await _ids(api, f"/fhir/r4/ServiceRequest?identifier={token}", doctor)) == sorted(ids)
    only = await _ids(api, f"/fhir/r4/ServiceRequest?identifier={token}&patient={stays[1]['patient_id']}", doctor)
    assert only == [ids[1]]

    medication = medication_order(stays[0]["patient_id"], identifier=f"CPOE-{uuid.uuid4().hex}")
    r = await api.post("/fhir/r4/MedicationRequest", json=medication, headers=doctor)
    assert r.status_code == 202, r.text
    med_id = r.headers["content-location"].rsplit("/", 1)[1]
    pharmacist = api_auth("pharmacist-1", "pharmacist")
    med = await _recorded(api, f"/fhir/r4/MedicationRequest/{med_id}", pharmacist)
    assert med["identifier"] == medication["identifier"]
    value = medication["identifier"][0]["value"]
    assert await _ids(api, f"/fhir/r4/MedicationRequest?identifier={value}", pharmacist) == [med_id]
