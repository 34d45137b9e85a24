"""Workflow history is encrypted: a raw scan finds no patient data; the codec endpoint decodes per policy."""
from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
import sqlalchemy as sa
from google.protobuf.json_format import MessageToDict
from temporalio.api.common.v1 import Payloads
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from activities.crypto.keyring import KeyRingFile
from activities.crypto.payload_codec import ENCODING, EncryptionCodec, encrypted_data_converter
from activities.storage.db import make_session_factory
from api.app import create_app
from api.auth import TokenVerifier
from api.services import ApiServices
from deploy.settings import Settings
from deploy.tokens import issue_token, issuer_key
from ledger.embedded import EmbeddedLedger
from policies.embedded import EmbeddedPolicyEngine
from tests.integration.conftest import journey_worker
from tests.integration.workflows.test_admission_journey import journey_input, wait_stage
from workflows.journey import PatientJourney

pytestmark = pytest.mark.integration

UI = "http://127.0.0.1:8233"


def raw_history_bytes(events: list) -> bytes:
    return b"".join(e.SerializeToString() for e in events)


async def admit(client: Client, env: WorkflowEnvironment, engine: sa.Engine, ledger: EmbeddedLedger,
                queue: str, identifier: str) -> tuple[str, str, bytes]:
    """Admit a patient with this client's converter (its query decodes the journey's state back whole);
    the raw bytes of the journey's and admission's histories."""
    inp = journey_input(identifier=identifier)
    async with journey_worker(SimpleNamespace(client=client), engine, ledger, queue):  # type: ignore[arg-type]
        handle = await client.start_workflow(PatientJourney.run, inp, id=inp.journey_id, task_queue=queue)
        state = await wait_stage(handle, "admitted")
        assert state.stage == "admitted" and state.bed_id
    raw = b""
    for wid in (inp.journey_id, f"admission-{inp.encounter_id}"):
        raw += raw_history_bytes((await env.client.get_workflow_handle(wid).fetch_history()).events)
    return inp.journey_id, state.patient_id, raw


@pytest.fixture
def keys(tmp_path: Path) -> KeyRingFile:
    return KeyRingFile(tmp_path / "history-codec.json", "hist")


async def test_raw_history_holds_no_patient_data(temporal_env: WorkflowEnvironment, db_engine: sa.Engine,
                                                 ledger: EmbeddedLedger, task_queue: str, keys: KeyRingFile) -> None:
    secret_client = Client(**{**temporal_env.client.config(), "data_converter": encrypted_data_converter(keys)})
    _, _, raw = await admit(secret_client, temporal_env, db_engine, ledger, task_queue, "MRN-SCAN-4711")
    for needle in (b"Verma", b"Asha", b"MRN-SCAN-4711", b"1980-05-17", b"pneumonia"):
        assert needle not in raw, needle
    assert ENCODING in raw and keys.ring.active_id.encode() in raw

    # The scan is able to find plaintext: the same admission without the codec leaves the name in history.
    _, _, clear = await admit(temporal_env.client, temporal_env, db_engine, ledger, task_queue, "MRN-SCAN-4712")
    assert b"Verma" in clear and b"MRN-SCAN-4712" in clear


@pytest.fixture
async def codec_api(db_engine: sa.Engine, ledger: EmbeddedLedger, keys: KeyRingFile,
                    tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Settings]]:
    settings = Settings(home=tmp_path / "home")
    services = ApiServices(
        sessions=make_session_factory(db_engine), policy=EmbeddedPolicyEngine(), ledger=ledger,
        verifier=TokenVerifier(issuer=settings.token_issuer, audience=settings.token_audience,
                               public_key=issuer_key(settings).public_key()),
        index_key=b"k" * 32, task_queue="unused", codec=EncryptionCodec(keys), codec_origins=(UI,))
    transport = httpx.ASGITransport(app=create_app(services))
    async with httpx.AsyncClient(transport=transport, base_url="https://hms.test") as client:
        yield client, settings


async def test_codec_endpoint_decodes_only_for_the_care_team(
        temporal_env: WorkflowEnvironment, db_engine: sa.Engine, ledger: EmbeddedLedger, task_queue: str,
        keys: KeyRingFile, codec_api: tuple[httpx.AsyncClient, Settings]) -> None:
    api, settings = codec_api
    secret_client = Client(**{**temporal_env.client.config(), "data_converter": encrypted_data_converter(keys)})
    journey_id, patient_id, _ = await admit(secret_client, temporal_env, db_engine, ledger, task_queue,
                                            "MRN-CODEC-1")
    history = await temporal_env.client.get_workflow_handle(journey_id).fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    body = MessageToDict(Payloads(payloads=list(started.input.payloads)))

    def as_user(user: str, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {issue_token(settings, user, role)}", "Origin": UI}

    mine = await api.post("/codec/decode", json=body, headers=as_user("attending-1", "attending_physician"))
    assert mine.status_code == 200 and mine.headers["access-control-allow-origin"] == UI
    decoded = mine.json()["payloads"][0]
    assert decoded["metadata"]["encoding"] == "anNvbi9wbGFpbg=="  # json/plain
    for user, role in (("attending-2", "attending_physician"), ("admin-1", "admin"), ("billing-1", "billing_clerk")):
        other = await api.post("/codec/decode", json=body, headers=as_user(user, role))
        assert other.status_code == 200 and other.json() == body, user  # still sealed
    assert (await api.post("/codec/decode", json=body)).status_code == 401
    bad = await api.post("/codec/decode", json={"payloads": "nope"}, headers=as_user("attending-1",
                                                                                    "attending_physician"))
    assert bad.status_code == 400

    decisions = {(e.event.actor, e.event.decision) for e in ledger.query(patient_id=patient_id)
                 if e.event.subtype == "codec.decode"}
    assert decisions == {("attending-1", "allow"), ("attending-2", "deny"), ("admin-1", "deny"),
                         ("billing-1", "deny")}

    sealed = await api.post("/codec/encode", json={"payloads": [{"metadata": {"encoding": "anNvbi9wbGFpbg=="},
                                                                 "data": "IngiCg=="}]},
                            headers=as_user("attending-1", "attending_physician"))
    assert sealed.status_code == 200
    assert sealed.json()["payloads"][0]["metadata"]["encoding"] == "YmluYXJ5L2VuY3J5cHRlZA=="
