"""Clinical fields at rest: sealed in the raw database, read in the clear, shredded with the patient's key.

The stack (a fresh database, the API and a worker with key-file ciphers) is the one of
``test_encryption_at_rest``; every sealed field gets a made-up string (``clinical_seed``)
through the store's own functions and the API, and the raw scan looks for each of them in
every text, JSON and bytea column of the ``hms`` schema.
"""
# ruff: noqa: F811  (the stack's fixtures are imported, then named as test parameters)
from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime

import httpx
import pytest
import sqlalchemy as sa

from activities.crypto.fields import DataErased, FieldCipher, file_cipher
from activities.storage import (
    erasure_repo,
    identifiers_repo,
    imaging_reports,
    pharmacy_text,
    security_repo,
    triage_store,
)
from activities.storage import pharmacy as pharmacy_store
from activities.storage import repository as repo
from activities.storage import tasks as task_store
from activities.storage.db import make_session_factory
from activities.storage.models import Encounter
from activities.storage.models_identifiers import ResourceIdentifier
from activities.storage.models_imaging import DiagnosticReport
from activities.storage.models_pharmacy import AllergyIntolerance, MedicationAdministration
from activities.storage.models_security import BreakGlassGrant
from activities.storage.models_triage import IntakeDraft, TriageAssessment
from tests.integration.security import clinical_seed as seed
from tests.integration.security.test_encryption_at_rest import (  # noqa: F401  (fixtures)
    ATTENDING,
    REGISTRATION,
    Stack,
    api,
    as_user,
    scan,
    stack,
)

pytestmark = pytest.mark.integration

COMPLIANCE = ("compliance-1", "compliance_officer")
OTHER_ATTENDING = ("attending-2", "attending_physician")
PHARMACIST = ("pharmacist-1", "pharmacist")


async def _admit(api: httpx.AsyncClient, stack: Stack, reason: str) -> tuple[str, str]:
    auth = as_user(stack)
    body = {"patient": {"identifier": f"MRN-CF-{uuid.uuid4().hex[:8]}", "given": "Ada", "family": "Quint",
                        "birth_date": "1961-04-05", "gender": "female"}, "ward": "medical", "reason": reason,
            "consent": True}
    r = await api.post("/api/v1/admissions", json=body, headers=auth(*REGISTRATION))
    assert r.status_code in (200, 202), r.text
    for _ in range(300):
        j = await api.get(f"/api/v1/journeys/{r.json()['journey_id']}", headers=auth(*ATTENDING))
        if j.status_code == 200 and j.json()["stage"] == "admitted":
            return r.json()["patient_id"], r.json()["encounter_id"]
        await asyncio.sleep(0.1)
    raise AssertionError(f"not admitted: {j.text}")


def _read_all(stack: Stack, cipher: FieldCipher, ids: seed.Seeded) -> dict[str, object]:
    """Every sealed field of the seeded rows, opened through the repositories."""
    with make_session_factory(stack.engine)() as s:
        draft = triage_store.intake_text(s, cipher, s.get(IntakeDraft, ids.intake_id))
        order = pharmacy_store.get_order(s, ids.order_id)
        grant = s.get(BreakGlassGrant, ids.grant_id)
        return {
            "reason": repo.encounter_reason(s, cipher, s.get(Encounter, ids.encounter_id)),
            "task": task_store.read_task(s, cipher, ids.task_id).details.get("hint"),
            "complaint": draft.complaint, "answer": draft.answers.get("onset"),
            "override": triage_store.override_reason(s, cipher, s.get(TriageAssessment, ids.assessment_id)),
            "impression": imaging_reports.report_text(s, cipher, s.get(DiagnosticReport, ids.report_id)).impression,
            "dicom": seed.dicom_name(s, cipher, ids),
            "hit": pharmacy_text.order_hits(s, cipher, order)[0]["note"],
            "rejected": pharmacy_text.order_status_reason(s, cipher, order),
            "held": pharmacy_text.administration_reason(
                s, cipher, s.get(MedicationAdministration, ids.administration_id)),
            "reaction": pharmacy_text.allergy_reaction(s, cipher, s.get(AllergyIntolerance, ids.allergy_id)),
            "grant": security_repo.grant_reasons(s, cipher, [grant])[grant.id],
            "comment": security_repo.review_comment(s, cipher, grant),
            "hold": erasure_repo.hold_reasons(s, cipher, erasure_repo.holds_of(s, ids.patient_id))[ids.hold_id],
        }


CLEAR = {"task": seed.TASK_HINT, "complaint": seed.COMPLAINT, "answer": seed.ANSWER, "override": seed.OVERRIDE,
         "impression": seed.IMPRESSION, "dicom": seed.DICOM_NAME, "hit": seed.HIT, "rejected": seed.REJECTED, "held": seed.HELD,
         "reaction": seed.REACTION, "grant": seed.GRANT, "comment": seed.COMMENT, "hold": seed.HOLD}


async def test_raw_database_holds_no_clinical_plaintext(api: httpx.AsyncClient, stack: Stack) -> None:
    auth, cipher = as_user(stack), file_cipher(stack.settings.keys_dir)
    patient, encounter = await _admit(api, stack, seed.REASON)
    ids = seed.seed(make_session_factory(stack.engine), cipher, patient, encounter)
    granted = await api.post("/api/v1/break-glass", json={"patient_id": patient, "reason": seed.GRANT},
                             headers=auth(*OTHER_ATTENDING))
    assert granted.status_code == 201, granted.text

    # The repositories read every field back in the clear ...
    assert _read_all(stack, cipher, ids) == {"reason": seed.REASON, **CLEAR}
    # ... and so does the API, in the shapes it always answered with.
    stay = (await api.get(f"/api/v1/patients/{patient}", headers=auth(*ATTENDING))).json()["encounter"]
    assert stay["reason"] == seed.REASON
    view = await api.get(f"/api/v1/break-glass/{granted.json()['grant_id']}", headers=auth(*COMPLIANCE))
    assert view.json()["reason"] == seed.GRANT
    holds = (await api.get(f"/api/v1/patients/{patient}/legal-holds", headers=auth(*COMPLIANCE))).json()
    assert [h["reason"] for h in holds] == [seed.HOLD]
    tasks = (await api.get("/api/v1/tasks", params={"patient": patient, "role": "pharmacist"},
                           headers=auth(*PHARMACIST))).json()
    assert {"order_id": ids.order_id, "hint": seed.TASK_HINT, "requires_override": True} in [t["details"] for t in tasks]
    allergies = (await api.get(f"/api/v1/patients/{patient}/allergies", headers=auth(*ATTENDING))).json()
    assert [a["reaction"] for a in allergies] == [seed.REACTION]
    fhir_stay = (await api.get(f"/fhir/r4/Encounter/{encounter}", headers=auth(*ATTENDING))).json()
    assert fhir_stay["reasonCode"] == [{"text": seed.REASON}]

    # The routing keys of the task stay queryable in the clear; the rest is ciphertext.
    with stack.engine.connect() as c:
        row = c.exec_driver_sql("SELECT details, details_enc FROM hms.tasks WHERE id = %s", (ids.task_id,)).one()
    assert row.details == {"order_id": ids.order_id, "requires_override": True} and row.details_enc[:1] == b"\x01"
    assert scan(stack.engine, seed.NEEDLES) == []


async def test_erasure_shreds_the_clinical_fields_and_the_ledger_still_verifies(
        api: httpx.AsyncClient, stack: Stack) -> None:
    auth, cipher = as_user(stack), file_cipher(stack.settings.keys_dir)
    sessions = make_session_factory(stack.engine)
    patient, encounter = str(uuid.uuid4()), str(uuid.uuid4())
    with sessions() as s, s.begin():
        repo.register_patient(s, cipher, patient, "urn:hms:mrn", f"MRN-SH-{uuid.uuid4().hex[:8]}", "Bo", "Lindqvist",
                              date(1948, 3, 9), "male")
        repo.create_encounter(s, encounter, patient, f"journey-{encounter}", "medical", seed.REASON, cipher)
    ids = seed.seed(sessions, cipher, patient, encounter)
    seed.finish_stay(sessions, encounter)
    with sessions() as s, s.begin():
        assert erasure_repo.release_hold(s, ids.hold_id, "compliance-1", datetime.now(UTC))
    assert _read_all(stack, cipher, ids) == {"reason": seed.REASON, **CLEAR}
    placer = f"PLACER-{uuid.uuid4().hex[:8]}"
    with sessions() as s, s.begin():  # a business identifier of one of their orders, searchable by blind index
        identifiers_repo.record(s, cipher, resource_type="ServiceRequest", resource_id=ids.order_id,
                                patient_id=patient, identifiers=[{"system": "urn:placer", "value": placer}])
    with sessions() as s:
        assert identifiers_repo.matching(s, cipher, "ServiceRequest", "urn:placer", placer) == {ids.order_id}

    with sessions() as s, s.begin():
        assert erasure_repo.shred_patient(s, patient, f"erasure-{uuid.uuid4()}", datetime.now(UTC)) == []
    cipher.forget(patient)
    with sessions() as s:  # the identifiers are gone with the key: nothing finds the order by them any more
        assert identifiers_repo.matching(s, cipher, "ServiceRequest", "urn:placer", placer) == set()
        assert s.scalar(sa.select(sa.func.count()).select_from(ResourceIdentifier)
                        .where(ResourceIdentifier.patient_id == patient)) == 0

    # Every field that needs the key now says the record was erased; lists leave the text out.
    with sessions() as s:
        for read in (lambda: repo.encounter_reason(s, cipher, s.get(Encounter, encounter)),
                     lambda: triage_store.intake_text(s, cipher, s.get(IntakeDraft, ids.intake_id)),
                     lambda: triage_store.override_reason(s, cipher, s.get(TriageAssessment, ids.assessment_id)),
                     lambda: imaging_reports.report_text(s, cipher, s.get(DiagnosticReport, ids.report_id)),
                     lambda: seed.dicom_name(s, cipher, ids),
                     lambda: pharmacy_text.order_hits(s, cipher, pharmacy_store.get_order(s, ids.order_id)),
                     lambda: pharmacy_text.allergy_reaction(s, cipher, s.get(AllergyIntolerance, ids.allergy_id)),
                     lambda: security_repo.review_comment(s, cipher, s.get(BreakGlassGrant, ids.grant_id))):
            with pytest.raises(DataErased):
                read()
        assert repo.encounter_reasons(s, cipher, [s.get(Encounter, encounter)]) == {}
        assert task_store.read_task(s, cipher, ids.task_id).details == {"order_id": ids.order_id,
                                                                        "requires_override": True}
        grant = s.get(BreakGlassGrant, ids.grant_id)
        assert security_repo.grant_reasons(s, cipher, [grant]) == {grant.id: security_repo.ERASED_TEXT}
        holds = erasure_repo.holds_of(s, patient)
        assert erasure_repo.hold_reasons(s, cipher, holds) == {ids.hold_id: erasure_repo.ERASED_TEXT}
    gone = await api.get(f"/fhir/r4/Encounter/{encounter}", headers=as_user(stack)(*ATTENDING))
    assert gone.status_code == 410, gone.text
    assert (await api.get(f"/fhir/r4/DiagnosticReport/{ids.report_id}", headers=auth(*ATTENDING))).status_code == 410

    # The ciphertext is still there (rows stay in place), no plaintext ever was, and the ledger verifies.
    assert seed.raw(sessions, "diagnostic_reports", "impression", ids.report_id)[:1] == b"\x01"
    assert scan(stack.engine, seed.NEEDLES) == []
    assert stack.ledger.verify().ok
