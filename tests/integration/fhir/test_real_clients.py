"""The real FHIR clients against the app served by uvicorn in-process: fhirpy (async, aiohttp) and
fhirclient (requests, R4 4.0.1 models) — create, read, search with paging, transaction."""
from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
import uvicorn
from fhirclient.models.bundle import Bundle as FcBundle
from fhirclient.models.observation import Observation as FcObservation
from fhirclient.models.patient import Patient as FcPatient
from fhirclient.server import FHIRServer
from fhirpy import AsyncFHIRClient

from api.app import create_app
from tests.integration.fhir.conftest import observation
from tests.integration.fhir.test_patient_api import new_patient


@pytest.fixture
def served(fhir_services) -> Iterator[str]:
    """The app on a free loopback port (plain HTTP: TLS is the stack's concern, not the facade's)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(fhir_services), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/fhir/r4"
    server.should_exit = True
    thread.join(10)


async def test_fhirpy_create_read_search_paging_transaction(served, token, admitted):
    clerk = AsyncFHIRClient(served, authorization=f"Bearer {token('registration-1', 'registration_clerk')}")
    family = f"Py{uuid.uuid4().hex[:8]}"
    ids = []
    for n in range(3):
        patient = clerk.resource("Patient", **{k: v for k, v in new_patient(family=family,
                                                                         birth=f"198{n}-01-01").items()
                                               if k != "resourceType"})
        await patient.save()
        ids.append(patient.id)
    got = await clerk.reference("Patient", ids[0]).to_resource()
    assert got["name"][0]["family"] == family
    found = await clerk.resources("Patient").search(family=family).sort("birthdate").limit(2).fetch_all()
    assert [p.id for p in found] == ids
    stay = admitted()
    doctor = AsyncFHIRClient(served, authorization=f"Bearer {token('attending-1', 'attending_physician')}")
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": f"urn:uuid:{uuid.uuid4()}", "resource": observation(stay.patient_id, stay.encounter_id),
         "request": {"method": "POST", "url": "Observation"}} for _ in range(3)]}
    response = await doctor.execute("", method="post", data=bundle)
    assert [e["response"]["status"] for e in response["entry"]] == ["201 Created"] * 3
    results = await doctor.resources("Observation").search(patient=stay.patient_id).limit(2).fetch_all()
    assert len(results) == 3


def test_fhirclient_create_read_search_paging_transaction(served, token, admitted):
    clerk = FHIRServer(None, base_uri=served)
    clerk.session.headers["Authorization"] = f"Bearer {token('registration-1', 'registration_clerk')}"
    family = f"Fc{uuid.uuid4().hex[:8]}"
    ids = []
    for n in range(3):
        created = FcPatient(new_patient(family=family, birth=f"199{n}-02-02")).create(clerk)
        ids.append(created["id"])
    assert FcPatient.read(ids[1], clerk).name[0].family == family
    search = FcPatient.where(struct={"family": family, "_count": "2", "_sort": "birthdate"})
    assert [p.id for p in search.perform_resources_iter(clerk)] == ids
    stay = admitted()
    doctor = FHIRServer(None, base_uri=served)
    doctor.session.headers["Authorization"] = f"Bearer {token('attending-1', 'attending_physician')}"
    bundle = FcBundle({"type": "transaction", "entry": [
        {"resource": observation(stay.patient_id, stay.encounter_id),
         "request": {"method": "POST", "url": "Observation"}}]})
    answer = FcBundle(doctor.post_json("", bundle.as_json()).json())
    assert answer.type == "transaction-response" and answer.entry[0].response.status == "201 Created"
    obs = FcObservation.where(struct={"patient": stay.patient_id}).perform_resources_iter(doctor)
    assert [o.valueQuantity.value for o in obs] == [5.4]
