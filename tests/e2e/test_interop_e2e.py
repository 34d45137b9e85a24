"""The standards against the running stack: python-hl7's MLLPClient, fhirpy, fhirclient and a wss client.

A lab system admits a patient with ADT^A01 over MLLP, a ward nurse watches the ward's event
stream, the lab sends a critical ORU^R01: the result is pushed to the nurse's stream, is
readable as a FHIR Observation through both FHIR clients, reaches the journey (a review task
for the attending), and a resent message changes nothing.
"""
from __future__ import annotations

import asyncio
import ssl
import uuid

import hl7
import httpx
import pytest
from fhirclient.models.observation import Observation as FcObservation
from fhirclient.server import FHIRServer
from fhirpy import AsyncFHIRClient
from hl7.client import MLLPClient

from deploy.stream_client import subscribe
from tests.e2e.conftest import RunningStack
from tests.unit.hl7.samples import adt, control_id, oru

pytestmark = pytest.mark.e2e


def _send(stack: RunningStack, *messages: str) -> list[str]:
    with MLLPClient("127.0.0.1", stack.settings.mllp_port) as client:
        return [client.send_message(m).decode().strip("\x0b\x1c\r\n") for m in messages]


def _msa(ack: str) -> list[str]:
    return str(hl7.parse(ack).segment("MSA")).split("|")


async def _eventually(probe, timeout: float = 120):  # noqa: ANN001, ANN202
    async with asyncio.timeout(timeout):
        while True:
            found = await probe()
            if found:
                return found
            await asyncio.sleep(0.3)


async def test_hl7_in_fhir_out_and_the_result_pushed_live(stack: RunningStack) -> None:
    mrn, oru_id = f"E2E{uuid.uuid4().hex[:10]}", control_id()
    ctx = ssl.create_default_context(cafile=str(stack.ca_cert))
    nurse = AsyncFHIRClient(f"{stack.api_url}/fhir/r4", authorization=f"Bearer {stack.token(user='nurse-medical-1')}",
                            aiohttp_config={"ssl": ctx})

    [admit_ack] = await asyncio.to_thread(_send, stack, adt("A01", mrn=mrn))
    assert _msa(admit_ack)[1] == "AA"

    async def registered():  # noqa: ANN202
        found = await nurse.resources("Patient").search(identifier=f"urn:hms:mrn|{mrn}").fetch()
        return found[0] if found else None

    patient = await _eventually(registered)

    async def in_stay():  # noqa: ANN202
        stays = await nurse.resources("Encounter").search(patient=patient.id, status="in-progress").fetch()
        return stays[0] if stays else None

    stay = await _eventually(in_stay)
    async with subscribe(stack.settings, "/ws/wards/medical", stack.token(user="nurse-medical-1")) as events:
        critical = oru(mrn=mrn, cid=oru_id, value="5.0").replace("|12.0-16.0|N|", "|12.0-16.0|LL|")
        acks = await asyncio.to_thread(_send, stack, critical, critical)  # the second is a resend
        assert [_msa(a)[1:3] for a in acks] == [["AA", oru_id], ["AA", oru_id]]
        pushed = await events.next(lambda e: e["kind"] == "result" and e["patient_id"] == patient.id, timeout=60)
    assert pushed["data"]["resourceType"] == "Observation"
    assert pushed["data"]["encounter"]["reference"] == f"Encounter/{stay.id}"

    results = await nurse.resources("Observation").search(patient=patient.id).fetch_all()
    assert sorted(o["code"]["coding"][0]["code"] for o in results) == ["718-7", "8867-4"]  # once, not twice
    hb = next(o for o in results if o["code"]["coding"][0]["code"] == "718-7")
    assert hb["valueQuantity"]["value"] == 5.0

    server = FHIRServer(None, base_uri=f"{stack.api_url}/fhir/r4")
    server.session.verify = str(stack.ca_cert)
    server.session.trust_env = False  # REQUESTS_CA_BUNDLE would override the stack's CA
    server.session.headers["Authorization"] = f"Bearer {stack.token(user='attending-1')}"
    read = await asyncio.to_thread(FcObservation.read, hb["id"], server)
    assert read.code.coding[0].code == "718-7" and read.subject.reference == f"Patient/{patient.id}"

    attending = AsyncFHIRClient(f"{stack.api_url}/fhir/r4",
                                authorization=f"Bearer {stack.token(user='attending-1')}",
                                aiohttp_config={"ssl": ctx})
    assert (await attending.reference("Patient", patient.id).to_resource())["id"] == patient.id
    async with httpx.AsyncClient(base_url=stack.api_url, verify=ctx, timeout=30) as api:
        headers = {"Authorization": f"Bearer {stack.token(user='attending-1')}"}

        async def review_task():  # noqa: ANN202
            r = await api.get("/api/v1/tasks", params={"patient": patient.id}, headers=headers)
            return [t for t in r.json() if t["type"] == "review-critical-result"] if r.status_code == 200 else None

        [task] = await _eventually(review_task)
        assert task["details"]["observation_id"] == hb["id"] and task["details"]["interpretation"] == "LL"
        done = await api.post(f"/api/v1/tasks/{task['id']}/complete", json={"action": "acknowledged"},
                              headers=headers)
        assert done.status_code == 200, done.text
    [discharge_ack] = await asyncio.to_thread(_send, stack, adt("A03", mrn=mrn))
    assert _msa(discharge_ack)[1] == "AA"
