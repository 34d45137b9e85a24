"""The audit ledger cannot take entries: reads of patient data fail closed, and nothing leaves unaudited.

The stack's API reads a patient while the ledger append runs beside the read
(``api.access.authorized_read``). Here the ledger's table refuses every insert (a trigger
raising, as a broken ledger store would): the API answers 503 with no patient data, for an
allowed read and a refused one alike, the task API and the FHIR facade alike, and the log does
not grow. Once the ledger takes entries again, the same reads answer and are recorded.
(The policy engine down is covered by ``tests/integration/security/test_policy_down.py``.)
"""
from __future__ import annotations

import ssl
import time
import uuid

import httpx
import pytest
import sqlalchemy as sa

from tests.reliability.conftest import Workers
from tests.reliability.faults import assert_audit_verifies, count

pytestmark = pytest.mark.e2e

GIVEN, FAMILY, BIRTH = "Aiko", "Larsen", "1980-05-06"
REFUSE = """
CREATE FUNCTION audit.reliability_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'audit ledger store unavailable'; END $$;
CREATE TRIGGER reliability_refuse BEFORE INSERT ON audit.entries
    FOR EACH STATEMENT EXECUTE FUNCTION audit.reliability_refuse();
"""
RESTORE = """
DROP TRIGGER IF EXISTS reliability_refuse ON audit.entries;
DROP FUNCTION IF EXISTS audit.reliability_refuse();
"""


def _admitted(c: httpx.Client, clerk: dict[str, str], identifier: str) -> str:
    body = {"patient": {"identifier": identifier, "given": GIVEN, "family": FAMILY, "birth_date": BIRTH,
                        "gender": "female"}, "ward": "medical", "reason": "observation", "consent": True}
    r = c.post("/api/v1/admissions", json=body, headers=clerk)
    assert r.status_code == 202, r.text
    patient_id = r.json()["patient_id"]
    deadline = time.monotonic() + 120
    while (read := c.get(f"/api/v1/patients/{patient_id}", headers=clerk)).status_code != 200:
        assert time.monotonic() < deadline, f"patient never readable: {read.status_code}"
        time.sleep(0.25)
    return patient_id


def _execute(db: sa.Engine, script: str) -> None:
    with db.begin() as conn:
        conn.exec_driver_sql(script)


def test_ledger_down_refuses_reads_and_leaks_nothing(stack, workers: Workers, db: sa.Engine) -> None:  # noqa: ANN001
    workers.ensure(1)
    clerk = {"Authorization": f"Bearer {stack.token(role='registration_clerk')}"}
    outsider = {"Authorization": f"Bearer {stack.token(role='billing_clerk')}"}
    identifier = f"REL-{uuid.uuid4().hex[:10]}"
    with httpx.Client(base_url=stack.api_url, verify=ssl.create_default_context(cafile=str(stack.ca_cert)),
                      timeout=30) as c:
        patient_id = _admitted(c, clerk, identifier)
        reads = [(f"/api/v1/patients/{patient_id}", clerk), (f"/fhir/r4/Patient/{patient_id}", clerk),
                 (f"/api/v1/patients/{patient_id}", outsider)]
        healthy = [c.get(path, headers=h) for path, h in reads]
        assert FAMILY in healthy[0].text and FAMILY in healthy[1].text  # what a leak would look like

        _execute(db, REFUSE)
        try:
            size = count(db, "SELECT count(*) FROM audit.entries")
            down = [c.get(path, headers=h) for path, h in reads]
            after = count(db, "SELECT count(*) FROM audit.entries")
        finally:
            _execute(db, RESTORE)

        for r in down:
            assert r.status_code == 503, (r.request.url.path, r.status_code, r.text)
            assert "ledger" in r.text  # the task API's detail, or the FHIR facade's OperationOutcome
            for value in (GIVEN, FAMILY, BIRTH, identifier):
                assert value not in r.text, "patient data left while the ledger was down"
        assert after == size, "entries were appended while the ledger refused them"

        again = [c.get(path, headers=h).status_code for path, h in reads]
        assert again == [r.status_code for r in healthy]
    assert count(db, "SELECT count(*) FROM audit.entries") >= size + len(reads)
    assert_audit_verifies(stack)
