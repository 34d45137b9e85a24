"""Patient over FHIR: register, read, update with versions, search with paging; content types and errors."""
from __future__ import annotations

import uuid

from tests.integration.fhir.conftest import FHIR, valid

JSON = {"Content-Type": FHIR}


def new_patient(mrn: str | None = None, family: str = "Iyer", birth: str = "1975-03-02") -> dict:
    return {"resourceType": "Patient",
            "identifier": [{"system": "urn:hms:mrn", "value": mrn or f"MRN-{uuid.uuid4().hex[:10]}"}],
            "name": [{"use": "official", "family": family, "given": ["Kiran"]}], "gender": "male",
            "birthDate": birth}


async def test_capability_statement_tells_what_is_served(fhir):
    r = await fhir.get("/fhir/r4/metadata")
    assert r.status_code == 200 and r.headers["content-type"].startswith(FHIR)
    cap = valid(r.json())
    by_type = {res["type"]: res for res in cap["rest"][0]["resource"]}
    assert {i["code"] for i in by_type["Patient"]["interaction"]} == {"read", "search-type", "create", "update"}
    assert {i["code"] for i in by_type["Encounter"]["interaction"]} == {"read", "search-type", "create", "update"}
    assert {i["code"] for i in by_type["AuditEvent"]["interaction"]} == {"read", "search-type"}
    assert "Observation:patient" in by_type["Observation"]["searchInclude"]
    assert {"transaction", "batch"} <= {i["code"] for i in cap["rest"][0]["interaction"]}


async def test_register_read_and_duplicate(fhir, auth):
    h = auth("registration-1", "registration_clerk")
    body = new_patient()
    r = await fhir.post("/fhir/r4/Patient", json=body, headers={**h, **JSON})
    assert r.status_code == 201, r.text
    created = valid(r.json())
    assert r.headers["location"].endswith(f"/Patient/{created['id']}/_history/{created['meta']['versionId']}")
    assert r.headers["etag"] == f'W/"{created["meta"]["versionId"]}"'
    got = (await fhir.get(f"/fhir/r4/Patient/{created['id']}", headers=h)).json()
    assert got["name"][0]["family"] == "Iyer" and got["identifier"] == body["identifier"]
    again = await fhir.post("/fhir/r4/Patient", json=body, headers={**h, **JSON})
    assert again.status_code == 409 and again.json()["resourceType"] == "OperationOutcome"


async def test_update_with_if_match(fhir, auth):
    h = {**auth("registration-1", "registration_clerk"), **JSON}
    created = (await fhir.post("/fhir/r4/Patient", json=new_patient(), headers=h)).json()
    version = created["meta"]["versionId"]
    changed = {**created, "name": [{"use": "official", "family": "Menon", "given": ["Kiran"]}]}
    stale = await fhir.put(f"/fhir/r4/Patient/{created['id']}", json=changed, headers={**h, "If-Match": 'W/"0"'})
    assert stale.status_code == 412, stale.text
    ok = await fhir.put(f"/fhir/r4/Patient/{created['id']}", json=changed,
                        headers={**h, "If-Match": f'W/"{version}"'})
    assert ok.status_code == 200, ok.text
    assert ok.json()["name"][0]["family"] == "Menon" and ok.json()["meta"]["versionId"] != version
    mismatch = await fhir.put(f"/fhir/r4/Patient/{created['id']}", json={**changed, "id": "other"}, headers=h)
    assert mismatch.status_code == 400
    missing = await fhir.put("/fhir/r4/Patient/no-such-patient", json={**changed, "id": "no-such-patient"},
                             headers=h)
    assert missing.status_code == 404


async def test_search_params_and_paging(fhir, auth):
    h = auth("registration-1", "registration_clerk")
    family = f"Fam{uuid.uuid4().hex[:8]}"
    ids = []
    for year in (1950, 1960, 1970, 1980, 1990):
        r = await fhir.post("/fhir/r4/Patient", json=new_patient(family=family, birth=f"{year}-06-15"),
                            headers={**h, **JSON})
        ids.append(r.json()["id"])
    page = (await fhir.get(f"/fhir/r4/Patient?family={family}&_count=2&_sort=birthdate", headers=h)).json()
    valid(page)
    seen = [e["resource"]["id"] for e in page["entry"]]
    links = {link["relation"]: link["url"] for link in page["link"]}
    assert "previous" not in links
    while "next" in links:
        page = (await fhir.get(links["next"].replace("https://hms.test", ""), headers=h)).json()
        links = {link["relation"]: link["url"] for link in page["link"]}
        assert "previous" in links
        seen += [e["resource"]["id"] for e in page["entry"]]
    assert seen == ids
    r = await fhir.get(f"/fhir/r4/Patient?family={family}&birthdate=ge1970&birthdate=lt1990", headers=h)
    assert [e["resource"]["id"] for e in r.json()["entry"]] == ids[2:4]
    r = await fhir.get(f"/fhir/r4/Patient?name={family.lower()}&birthdate=ne1960&_sort=-birthdate", headers=h)
    assert [e["resource"]["id"] for e in r.json()["entry"]] == [ids[4], ids[3], ids[2], ids[0]]
    mrn = (await fhir.get(f"/fhir/r4/Patient/{ids[0]}", headers=h)).json()["identifier"][0]["value"]
    for query in (f"identifier=urn:hms:mrn|{mrn}", f"identifier={mrn}", f"_id={ids[0]}"):
        r = await fhir.get(f"/fhir/r4/Patient?{query}", headers=h)
        assert [e["resource"]["id"] for e in r.json()["entry"]] == [ids[0]], query
    r = await fhir.get(f"/fhir/r4/Patient?family={family}&gender=female", headers=h)
    assert r.json()["entry"] == []


async def test_errors_are_operation_outcomes(fhir, auth):
    h = auth("registration-1", "registration_clerk")
    cases = [
        (fhir.get("/fhir/r4/Patient?bogus=1", headers=h), 400),
        (fhir.get("/fhir/r4/Patient?birthdate=xx1990", headers=h), 400),
        (fhir.get("/fhir/r4/Patient?_count=abc", headers=h), 400),
        (fhir.get("/fhir/r4/Patient?_sort=colour", headers=h), 400),
        (fhir.get("/fhir/r4/Patient/does-not-exist", headers=h), 404),
        (fhir.get("/fhir/r4/Spaceship/1", headers=h), 404),
        (fhir.get("/fhir/r4/Patient/x", headers={**h, "Accept": "application/xml"}), 406),
        (fhir.post("/fhir/r4/Patient", content=b"{nope", headers={**h, **JSON}), 400),
        (fhir.post("/fhir/r4/Patient", content=b"<Patient/>", headers={**h, "Content-Type": "application/xml"}),
         415),
        (fhir.post("/fhir/r4/Patient", json={"resourceType": "Observation"}, headers={**h, **JSON}), 400),
        (fhir.post("/fhir/r4/Patient", json={**new_patient(), "gender": "robot"}, headers={**h, **JSON}), 422),
        (fhir.post("/fhir/r4/Patient", json={**new_patient(), "name": []}, headers={**h, **JSON}), 422),
        (fhir.post("/fhir/r4/Patient", json={**new_patient(), "birthDate": 12}, headers={**h, **JSON}), 422),
        (fhir.delete("/fhir/r4/Patient/x", headers=h), 405),
        (fhir.post("/fhir/r4/Encounter", json={"resourceType": "Encounter"}, headers={**h, **JSON}), 422),
        (fhir.get("/fhir/r4/Patient/x"), 401),
    ]
    for call, status in cases:
        r = await call
        assert r.status_code == status, (status, r.text)
        assert r.headers["content-type"].startswith(FHIR)
        outcome = valid(r.json())
        assert outcome["resourceType"] == "OperationOutcome" and outcome["issue"][0]["diagnostics"]


async def test_application_json_is_accepted(fhir, auth):
    h = {**auth("registration-1", "registration_clerk"), "Accept": "application/json",
         "Content-Type": "application/json"}
    r = await fhir.post("/fhir/r4/Patient", json=new_patient(), headers=h)
    assert r.status_code == 201 and r.headers["content-type"].startswith(FHIR)
