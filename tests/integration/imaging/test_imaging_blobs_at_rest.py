"""DICOM bytes at rest: sealed per patient, still scored, re-uploads idempotent, shredded with the patient's key.

A real radiograph is uploaded through the task API with a header naming the patient; the raw
``imaging_blobs`` row must hold none of it (nor the Part-10 magic, nor the file's SHA-256
anywhere in the database), while the AI pre-screen reads it through the sealing module.
"""
from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime

import httpx
import pytest
import sqlalchemy as sa

from activities.crypto.fields import DataErased, FieldIntegrityError, ephemeral_cipher
from activities.storage import erasure_repo, imaging_blobs
from activities.storage import repository as repo
from activities.storage.db import make_session_factory
from activities.storage.models_imaging import ImagingBlob
from deploy.demo_orders import synthetic_dicom
from tests.integration.imaging.helpers import rg1_bytes, with_patient
from tests.integration.imaging.test_imaging_api import order, upload, worklist_until
from tests.integration.security.test_encryption_at_rest import scan

pytestmark = pytest.mark.integration
Auth = Callable[..., dict[str, str]]
GIVEN, FAMILY, BIRTH = "Isaura", "Wendelboe", "19520317"
RADIOLOGIST = ("radiologist-1", "radiologist")


async def admit(api: httpx.AsyncClient, auth: Auth, identifier: str) -> dict:
    body = {"patient": {"identifier": identifier, "given": GIVEN, "family": FAMILY, "birth_date": "1952-03-17",
                        "gender": "female"}, "ward": "medical", "reason": "cough", "consent": True}
    r = await api.post("/api/v1/admissions", json=body, headers=auth("registration-1", "registration_clerk"))
    assert r.status_code == 202, r.text
    for _ in range(300):
        j = await api.get(f"/api/v1/journeys/{r.json()['journey_id']}", headers=auth("attending-1", "attending_physician"))
        if j.status_code == 200 and j.json()["stage"] == "admitted":
            return r.json()
        await asyncio.sleep(0.1)
    raise AssertionError(f"not admitted: {j.text}")


def blobs_of(engine: sa.Engine, patient_id: str) -> list[sa.Row]:
    with engine.connect() as c:
        return c.execute(sa.text("SELECT id, data FROM hms.imaging_blobs WHERE patient_id = :p"),
                         {"p": patient_id}).all()


async def reference(api: httpx.AsyncClient, auth: Auth, order_id: str, ref: str) -> httpx.Response:
    for _ in range(100):  # the order row appears once the stage's first activity ran
        r = await api.post(f"/api/v1/imaging/orders/{order_id}/study", json={"reference": ref},
                           headers=auth(*RADIOLOGIST))
        if r.status_code != 404:
            return r
        await asyncio.sleep(0.1)
    return r


async def test_uploaded_dicom_is_sealed_scored_and_stored_once_per_patient(
        api: httpx.AsyncClient, auth: Auth, db_engine: sa.Engine) -> None:
    identifier = f"MRN-DCM-{uuid.uuid4().hex[:8]}"
    admitted = await admit(api, auth, identifier)
    patient, journey = admitted["patient_id"], admitted["journey_id"]
    data = with_patient(rg1_bytes(), f"{FAMILY}^{GIVEN}", identifier, BIRTH)
    digest = hashlib.sha256(data).hexdigest()

    first = await order(api, auth, journey, priority="routine")
    r = await upload(api, auth, first, data)
    assert r.status_code == 202, r.text
    blob_id = r.json()["blob_id"]
    assert r.json()["sha256"] == digest and len(blob_id) == 64 and blob_id != digest
    [item] = await worklist_until(api, auth, {first})
    assert item["ai_status"] == "scored"  # the pre-screen opened the sealed bytes

    # The raw row: ciphertext, no header, no Part-10 magic; the file's hash is stored nowhere.
    [row] = blobs_of(db_engine, patient)
    raw = bytes(row.data)
    assert row.id == blob_id and raw[:1] == b"\x01" and raw[128:132] != b"DICM"
    for needle in (FAMILY.encode(), GIVEN.encode(), identifier.encode(), BIRTH.encode(), b"1.2.840.10008"):
        assert needle not in raw
    assert scan(db_engine, [FAMILY, identifier, BIRTH, digest]) == []
    with make_session_factory(db_engine)() as s:
        assert imaging_blobs.read(s, ephemeral_cipher(), blob_id) == data

    # The same file again, uploaded or referenced by its SHA-256: the same row.
    second = await order(api, auth, journey, priority="routine")
    third = await order(api, auth, journey, priority="routine")
    again = await upload(api, auth, second, data)
    assert again.status_code == 202 and again.json()["blob_id"] == blob_id
    by_hash = await reference(api, auth, third, f"sha256:{digest}")
    assert by_hash.status_code == 202 and by_hash.json()["blob_id"] == blob_id, by_hash.text
    assert [r.id for r in blobs_of(db_engine, patient)] == [blob_id]
    with db_engine.connect() as c:
        pointed = c.execute(sa.text("SELECT DISTINCT sha256 FROM hms.imaging_studies WHERE order_id IN (:a, :b, :c)"),
                            {"a": first, "b": second, "c": third}).scalars().all()
    assert pointed == [blob_id]

    # Another patient cannot re-use this patient's file, and their own copy is an unrelated row.
    other = await admit(api, auth, f"MRN-DCM-{uuid.uuid4().hex[:8]}")
    theirs = await order(api, auth, other["journey_id"], priority="routine")
    for ref in (f"sha256:{digest}", f"sha256:{blob_id}"):
        refused = await reference(api, auth, theirs, ref)
        assert refused.status_code == 422 and "sha256" in refused.json()["detail"], refused.text
    own = await upload(api, auth, theirs, data)
    assert own.status_code == 202 and own.json()["blob_id"] not in (blob_id, digest)
    assert [r.id for r in blobs_of(db_engine, other["patient_id"])] == [own.json()["blob_id"]]
    for j in (journey, other["journey_id"]):
        await api.post(f"/api/v1/journeys/{j}/discharge", json={}, headers=auth("attending-1", "attending_physician"))


def test_a_moved_ciphertext_fails_and_a_shredded_key_leaves_the_blob_unreadable(db_engine: sa.Engine) -> None:
    cipher, sessions = ephemeral_cipher(), make_session_factory(db_engine)
    patient, other = str(uuid.uuid4()), str(uuid.uuid4())
    data = with_patient(synthetic_dicom("CR", 7), f"{FAMILY}^{GIVEN}", "MRN-SHRED", BIRTH)
    other_data = synthetic_dicom("CR", 8)
    with sessions() as s, s.begin():
        for pid in (patient, other):
            repo.register_patient(s, cipher, pid, "urn:hms:mrn", f"MRN-{pid[:8]}", GIVEN, FAMILY, date(1952, 3, 17),
                                  "female")
        mine = imaging_blobs.stage(s, cipher, patient, data)
        assert imaging_blobs.stage(s, cipher, patient, data) == mine  # idempotent
        theirs = imaging_blobs.stage(s, cipher, other, other_data)
    with sessions() as s:
        assert imaging_blobs.read(s, cipher, mine.blob_id) == data
        assert imaging_blobs.find(s, cipher, patient, mine.sha256) == mine.blob_id
        assert imaging_blobs.find(s, cipher, other, mine.sha256) is None
        # A ciphertext pasted into another patient's row does not open (the associated data binds it).
        s.execute(sa.update(ImagingBlob).where(ImagingBlob.id == theirs.blob_id).values(
            data=s.get(ImagingBlob, mine.blob_id).data))
        with pytest.raises(FieldIntegrityError, match="failed authentication"):
            imaging_blobs.read(s, cipher, theirs.blob_id)
        s.rollback()

    with sessions() as s, s.begin():
        assert erasure_repo.shred_patient(s, patient, f"erasure-{uuid.uuid4()}", datetime.now(UTC)) == []
    cipher.forget(patient)
    with sessions() as s:
        with pytest.raises(DataErased, match="erased"):
            imaging_blobs.read(s, cipher, mine.blob_id)
        with pytest.raises(DataErased):
            imaging_blobs.find(s, cipher, patient, mine.sha256)
        assert bytes(s.get(ImagingBlob, mine.blob_id).data)[:1] == b"\x01"  # the row stays, unreadable
        assert imaging_blobs.read(s, cipher, theirs.blob_id) == other_data  # other patients are untouched
