"""FHIR writes of imaging and clinical documents, on the real app, PostgreSQL and a Temporal dev server worker.

An ImagingStudy create reaches the order's imaging workflow (the pre-screen runs, the read opens); a
DiagnosticReport create completes the read through the workflow, once; an amendment is a new version
with the original kept. Compositions and amended notes are sealed at rest, versioned, and never read by
a billing clerk.
"""
from __future__ import annotations

import asyncio
import base64
import random
import uuid
from datetime import UTC, datetime

import httpx
import sqlalchemy as sa
from temporalio.testing import WorkflowEnvironment

from activities.discharge_fhir import build_composition
from activities.storage import discharge_repo, record_versions
from activities.storage.db import make_session_factory
from tests.integration.api import conftest as api_fixtures
from tests.integration.api.test_admissions_api import admission_body, admitted
from tests.integration.imaging.helpers import order_payload, wait_imaging
from workflows.imaging import ImagingWorkflow

FHIR = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}
DICOM = "http://dicom.nema.org/resources/ontology/DCM"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
#: The in-process app with a Temporal worker (tests/integration/api), instead of this folder's store-only app.
api, api_settings, auth = api_fixtures.api, api_fixtures.api_settings, api_fixtures.auth
PSY = {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "PSY"}


def _h(auth, user: str, role: str, **extra: str) -> dict[str, str]:  # noqa: ANN001
    return {**auth(user, role), **FHIR, **extra}


def study(pid: str, order_id: str, uid: str | None = None) -> dict:
    uid = uid or "1.2.826.0.1.3680043.8.498." + str(random.randrange(10**12, 10**13))
    return {"resourceType": "ImagingStudy", "status": "available", "subject": {"reference": f"Patient/{pid}"},
            "basedOn": [{"reference": f"ServiceRequest/{order_id}"}], "modality": [{"system": DICOM, "code": "CR"}],
            "identifier": [{"system": "urn:dicom:uid", "value": f"urn:oid:{uid}"}]}


def report(pid: str, order_id: str, conclusion: str) -> dict:
    return {"resourceType": "DiagnosticReport", "status": "final", "subject": {"reference": f"Patient/{pid}"},
            "code": {"coding": [{"system": "http://loinc.org", "code": "18748-4"}]}, "conclusion": conclusion,
            "basedOn": [{"reference": f"ServiceRequest/{order_id}"}],
            "conclusionCode": [{"coding": [{"system": "http://radlex.org", "code": "RID5352"}]},
                               {"coding": [{"system": INTERPRETATION, "code": "A"}]}],
            "presentedForm": [{"contentType": "text/plain", "data": base64.b64encode(b"Nodule, right lower lobe").decode()}]}


def composition(pid: str, text: str, loinc: str = "11488-4") -> dict:
    return {"resourceType": "Composition", "status": "final", "subject": {"reference": f"Patient/{pid}"},
            "type": {"coding": [{"system": "http://loinc.org", "code": loinc}]}, "date": "2026-11-20T10:00:00Z",
            "title": "Cardiology consultation", "author": [{"display": "attending"}],
            "section": [{"title": "Assessment", "text": {"status": "generated",
                                                         "div": f'<div xmlns="http://www.w3.org/1999/xhtml">{text}</div>'}}]}


def _raw_holds(engine: sa.Engine, table: str, column: str, needle: str) -> bool:
    with engine.connect() as c:
        return bool(c.execute(sa.text(f"SELECT count(*) FROM hms.{table} WHERE position(convert_to(:n, 'UTF8') in "
                                      f"{column}) > 0"), {"n": needle}).scalar())


async def _ordered(api: httpx.AsyncClient, auth) -> tuple[str, str]:  # noqa: ANN001
    """An admitted patient with a routine CR order for radiologist-1, recorded: (patient id, order id)."""
    started = await api.post("/api/v1/admissions", json=admission_body(), headers=auth("registration-1",
                                                                                        "registration_clerk"))
    ids = started.json()
    await admitted(api, auth, ids["journey_id"])
    r = await api.post(f"/api/v1/journeys/{ids['journey_id']}/imaging-orders", json=order_payload(priority="routine"),
                       headers=auth("attending-1", "attending_physician"))
    assert r.status_code == 202, r.text
    order_id = r.json()["order_id"]
    for _ in range(300):
        if (await api.get(f"/fhir/r4/ServiceRequest/{order_id}", headers=_h(auth, "radiologist-1", "radiologist"))
                ).status_code == 200:
            return ids["patient_id"], order_id
        await asyncio.sleep(0.1)
    raise AssertionError("the order was never recorded")


async def test_study_reaches_the_workflow_and_the_report_completes_its_read(
        api: httpx.AsyncClient, auth, temporal_env: WorkflowEnvironment, db_engine: sa.Engine) -> None:  # noqa: ANN001
    pid, order_id = await _ordered(api, auth)
    rad, other = _h(auth, "radiologist-1", "radiologist"), _h(auth, "radiologist-2", "radiologist")
    early = await api.post("/fhir/r4/DiagnosticReport", json=report(pid, order_id, "Too early"), headers=rad)
    assert early.status_code == 409, early.text  # no read is due before the study

    sent = study(pid, order_id)
    wrong_patient = {**sent, "subject": {"reference": f"Patient/{uuid.uuid4()}"}}
    assert (await api.post("/fhir/r4/ImagingStudy", json=wrong_patient, headers=rad)).status_code in (403, 422)
    created = await api.post("/fhir/r4/ImagingStudy", json=sent, headers=rad)
    assert created.status_code == 201, created.text
    assert created.json()["id"] == f"study-{order_id}"
    assert created.json()["identifier"] == sent["identifier"]
    assert (await api.post("/fhir/r4/ImagingStudy", json=sent, headers=rad)).status_code == 200  # the same, again
    assert (await api.post("/fhir/r4/ImagingStudy", json=study(pid, order_id), headers=rad)).status_code == 409

    handle = temporal_env.client.get_workflow_handle_for(ImagingWorkflow.run, f"imaging-{order_id}")
    state = await wait_imaging(handle, lambda s: s.status == "awaiting-report")
    assert state.study_id == f"study-{order_id}" and state.prescreen.status == "unavailable"  # a reference: no pixels
    with db_engine.connect() as c:  # the pre-screen activity ran on the study (it found nothing to score)
        assert c.execute(sa.text("SELECT ai_scored_at IS NOT NULL AND reference LIKE 'urn:oid:%' FROM "
                                 "hms.imaging_studies WHERE id = :s"), {"s": state.study_id}).scalar()

    study_url = f"/fhir/r4/ImagingStudy/study-{order_id}"
    described = {**created.json(), "description": "Chest PA, post-op day 2"}
    r = await api.put(study_url, json=described, headers=rad)
    assert r.status_code == 200 and r.json()["description"] == "Chest PA, post-op day 2", r.text
    assert not _raw_holds(db_engine, "imaging_study_descriptions", "description", "post-op day 2")
    withdrawn = await api.put(study_url, json={**r.json(), "status": "cancelled"}, headers=rad)
    assert withdrawn.status_code == 422 and withdrawn.json()["issue"][0]["expression"] == ["ImagingStudy.status"]
    assert (await api.get(study_url, headers=_h(auth, "billing-1", "billing_clerk"))).status_code == 403

    assert (await api.post("/fhir/r4/DiagnosticReport", json=report(pid, order_id, "Not mine"),
                           headers=other)).status_code == 403
    done = await api.post("/fhir/r4/DiagnosticReport", json=report(pid, order_id, "Suspicious nodule"), headers=rad)
    assert done.status_code == 201, done.text
    rid = done.json()["id"]
    assert rid == f"report-{order_id}" and done.json()["meta"]["versionId"] == "1"
    again = await api.post("/fhir/r4/DiagnosticReport", json=report(pid, order_id, "Twice"), headers=rad)
    assert again.status_code == 409, again.text
    state = await wait_imaging(handle, lambda s: s.status == "reported")
    assert state.report_id == rid
    reported = (await api.get(study_url, headers=rad)).json()
    assert (await api.put(study_url, json={**reported, "status": "entered-in-error"}, headers=rad)).status_code == 409

    doctor = _h(auth, "attending-1", "attending_physician")
    read = (await api.get(f"/fhir/r4/DiagnosticReport/{rid}", headers=doctor)).json()
    assert read["conclusion"] == "Suspicious nodule" and read["status"] == "final"
    assert base64.b64decode(read["presentedForm"][0]["data"]) == b"Nodule, right lower lobe"
    assert (await api.get(f"/fhir/r4/DiagnosticReport/{rid}", headers=_h(auth, "billing-1", "billing_clerk"))
            ).status_code == 403

    amended = {**read, "status": "amended", "conclusion": "Granuloma; no follow-up needed"}
    assert (await api.put(f"/fhir/r4/DiagnosticReport/{rid}", json=amended, headers=doctor)).status_code == 403
    r = await api.put(f"/fhir/r4/DiagnosticReport/{rid}", json=amended, headers={**rad, "If-Match": 'W/"1"'})
    assert r.status_code == 200, r.text
    assert r.json()["meta"]["versionId"] == "2" and r.json()["conclusion"] == "Granuloma; no follow-up needed"
    stale = await api.put(f"/fhir/r4/DiagnosticReport/{rid}", json={**amended, "conclusion": "Third"},
                          headers={**rad, "If-Match": 'W/"1"'})
    assert stale.status_code == 412, stale.text
    recoded = {**r.json(), "status": "corrected", "conclusion": "Other",
               "conclusionCode": [{"coding": [{"system": INTERPRETATION, "code": "N"}]}]}
    refused = await api.put(f"/fhir/r4/DiagnosticReport/{rid}", json=recoded, headers=rad)
    assert refused.status_code == 422 and refused.json()["issue"][0]["expression"] == ["DiagnosticReport.conclusionCode"]
    reread = (await api.get(f"/fhir/r4/DiagnosticReport/{rid}", headers=doctor)).json()
    assert reread["status"] == "amended" and reread["conclusion"] == "Granuloma; no follow-up needed"
    with make_session_factory(db_engine)() as s:
        [kept] = record_versions.history(s, api_cipher(), "DiagnosticReport", rid)
    assert kept.version == 1 and kept.content["conclusion"] == "Suspicious nodule" and kept.superseded_by == "radiologist-1"
    assert not _raw_holds(db_engine, "diagnostic_reports", "conclusion", "Granuloma")
    assert not _raw_holds(db_engine, "record_versions", "content", "Suspicious nodule")


def api_cipher():  # noqa: ANN201 - the process's field cipher, as the in-process app uses it
    from activities.crypto.fields import ephemeral_cipher
    return ephemeral_cipher()


async def test_compositions_are_sealed_versioned_and_not_for_billing(api: httpx.AsyncClient, auth,  # noqa: ANN001
                                                                     db_engine: sa.Engine) -> None:
    started = await api.post("/api/v1/admissions", json=admission_body(), headers=auth("registration-1",
                                                                                        "registration_clerk"))
    ids = started.json()
    await admitted(api, auth, ids["journey_id"])
    pid, doctor = ids["patient_id"], _h(auth, "attending-1", "attending_physician")
    secret = f"Murmur-{uuid.uuid4().hex[:8]}"
    created = await api.post("/fhir/r4/Composition", json=composition(pid, secret), headers=doctor)
    assert created.status_code == 201, created.text
    doc = created.json()
    assert doc["meta"]["versionId"] == "1" and doc["encounter"] == {"reference": f"Encounter/{ids['encounter_id']}"}
    assert doc["author"] == [{"identifier": {"system": "urn:hms:user", "value": "attending-1"}}]
    assert not _raw_holds(db_engine, "clinical_documents", "resource", secret)
    for user, role in (("billing-1", "billing_clerk"), ("attending-2", "attending_physician"),
                       ("pharmacist-1", "pharmacist"), ("radiologist-1", "radiologist")):
        r = await api.get(f"/fhir/r4/Composition/{doc['id']}", headers=_h(auth, user, role))
        assert r.status_code == 403, (role, r.text)
    assert (await api.post("/fhir/r4/Composition", json=composition(pid, "x"),
                           headers=_h(auth, "billing-1", "billing_clerk"))).status_code == 403
    summary = await api.post("/fhir/r4/Composition", json=composition(pid, "by hand", "18842-5"), headers=doctor)
    assert summary.status_code == 422 and "discharge journey" in summary.json()["issue"][0]["diagnostics"]

    final_again = {**doc, "title": "Cardiology consultation (revised)"}
    assert (await api.put(f"/fhir/r4/Composition/{doc['id']}", json=final_again, headers=doctor)).status_code == 422
    amended_text = f"Amended-{uuid.uuid4().hex[:8]}"
    amended = {**composition(pid, amended_text), "id": doc["id"], "status": "amended", "author": doc["author"],
               "encounter": doc["encounter"]}
    r = await api.put(f"/fhir/r4/Composition/{doc['id']}", json=amended, headers={**doctor, "If-Match": 'W/"1"'})
    assert r.status_code == 200, r.text
    assert r.json()["meta"]["versionId"] == "2" and amended_text in r.json()["section"][0]["text"]["div"]
    moved = {**amended, "subject": {"reference": f"Patient/{uuid.uuid4()}"}}
    assert (await api.put(f"/fhir/r4/Composition/{doc['id']}", json=moved, headers=doctor)).status_code == 422
    with make_session_factory(db_engine)() as s:
        [kept] = record_versions.history(s, api_cipher(), "Composition", doc["id"])
    assert secret in kept.content["section"][0]["text"]["div"]
    assert not _raw_holds(db_engine, "record_versions", "content", secret)
    assert not _raw_holds(db_engine, "clinical_documents", "resource", amended_text)

    # The journey's discharge summary is amended the same way; its original stays where the journey put it.
    summary_id = f"discharge-summary-{ids['encounter_id']}"
    generated = build_composition(summary_id, patient_id=pid, encounter_id=ids["encounter_id"], ward="medical",
                                  attending="attending-1", at=datetime.now(UTC), stages=[], medications={},
                                  follow_up_date=None, follow_up_clinic=None)
    with make_session_factory(db_engine)() as s, s.begin():
        discharge_repo.store_summary(s, composition_id=summary_id, encounter_id=ids["encounter_id"],
                                     journey_id=ids["journey_id"], patient_id=pid, security=[], resource=generated,
                                     at=datetime.now(UTC))
    served = (await api.get(f"/fhir/r4/Composition/{summary_id}", headers=doctor)).json()
    assert served["meta"]["versionId"] == "1"
    served["section"][2]["text"]["div"] = '<div xmlns="http://www.w3.org/1999/xhtml">Cardiology clinic in 2 weeks</div>'
    r = await api.put(f"/fhir/r4/Composition/{summary_id}", json={**served, "status": "amended"}, headers=doctor)
    assert r.status_code == 200, r.text
    assert r.json()["meta"]["versionId"] == "2" and "Cardiology clinic" in r.json()["section"][2]["text"]["div"]
    listed = (await api.get(f"/fhir/r4/Composition?patient={pid}", headers=doctor)).json()
    assert sorted(e["resource"]["meta"]["versionId"] for e in listed["entry"]) == ["2", "2"]
    with make_session_factory(db_engine)() as s:
        assert discharge_repo.summary_of_journey(s, ids["journey_id"]).resource["status"] == "final"
    via_task_api = (await api.get(f"/api/v1/journeys/{ids['journey_id']}/discharge-summary",
                                  headers=auth("attending-1", "attending_physician"))).json()
    assert via_task_api["status"] == "amended" and "Cardiology clinic" in via_task_api["section"][2]["text"]["div"]


async def test_notes_are_amended_relabelled_and_withdrawn(api: httpx.AsyncClient, auth,  # noqa: ANN001
                                                          db_engine: sa.Engine) -> None:
    started = await api.post("/api/v1/admissions", json=admission_body(), headers=auth("registration-1",
                                                                                        "registration_clerk"))
    ids = started.json()
    await admitted(api, auth, ids["journey_id"])
    doctor = _h(auth, "attending-1", "attending_physician")
    note = {"resourceType": "DocumentReference", "status": "current", "subject": {"reference": f"Patient/{ids['patient_id']}"},
            "content": [{"attachment": {"contentType": "text/plain", "data": base64.b64encode(b"first text").decode()}}]}
    created = (await api.post("/fhir/r4/DocumentReference", json=note, headers=doctor)).json()
    nid, url = created["id"], f"/fhir/r4/DocumentReference/{created['id']}"
    assert created["meta"]["versionId"] == "1"
    new_text = f"second-{uuid.uuid4().hex[:8]}"
    body = {**created, "content": [{"attachment": {"contentType": "text/plain",
                                                   "data": base64.b64encode(new_text.encode()).decode()}}]}
    no_doc_status = await api.put(url, json=body, headers=doctor)
    assert no_doc_status.status_code == 422 and no_doc_status.json()["issue"][0]["expression"] == [
        "DocumentReference.docStatus"]
    r = await api.put(url, json={**body, "docStatus": "amended"}, headers={**doctor, "If-Match": 'W/"1"'})
    assert r.status_code == 200, r.text
    assert r.json()["meta"]["versionId"] == "2" and r.json()["docStatus"] == "amended"
    task_api = (await api.get(f"/api/v1/notes/{nid}", headers=auth("attending-1", "attending_physician"))).json()
    assert task_api["text"] == new_text
    assert not _raw_holds(db_engine, "clinical_notes", "text", new_text)
    assert (await api.put(url, json=r.json(), headers={**doctor, "If-Match": 'W/"1"'})).status_code == 412

    relabelled = {**r.json(), "meta": {"security": [PSY]}}
    assert (await api.put(url, json=relabelled, headers=_h(auth, "attending-2", "attending_physician"))
            ).status_code == 403
    r = await api.put(url, json=relabelled, headers=doctor)
    assert r.status_code == 200 and r.json()["meta"]["security"] == [PSY] and r.json()["meta"]["versionId"] == "3"
    task_api = (await api.get(f"/api/v1/notes/{nid}", headers=auth("attending-1", "attending_physician"))).json()
    assert task_api["sensitivity"] == ["PSY"]
    assert (await api.put(url, json={**r.json(), "author": [{"display": "someone else"}]}, headers=doctor)
            ).status_code == 422
    assert (await api.put(url, json={**r.json(), "status": "entered-in-error"},
                          headers=_h(auth, "billing-1", "billing_clerk"))).status_code == 403
    withdrawn = await api.put(url, json={**r.json(), "status": "entered-in-error"}, headers=doctor)
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "entered-in-error"
    task_api = (await api.get(f"/api/v1/notes/{nid}", headers=auth("attending-1", "attending_physician"))).json()
    assert task_api["status"] == "entered-in-error"  # the task API's note says so too
    assert (await api.put(url, json=withdrawn.json(), headers=doctor)).status_code == 200  # nothing changes
    assert (await api.put(url, json={**withdrawn.json(), "status": "current"}, headers=doctor)).status_code == 409
    with make_session_factory(db_engine)() as s:
        kept = record_versions.history(s, api_cipher(), "DocumentReference", nid)
    assert [(k.version, k.change, k.content["text"]) for k in kept] == [
        (1, "amended", "first text"), (2, "relabelled", new_text), (3, "entered-in-error", new_text)]
