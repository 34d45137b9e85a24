"""The compliance officer's path on the running stack: API search, FHIR AuditEvent, export + offline check."""
from __future__ import annotations

import json
import ssl
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from ledger import verify
from ledger.model import AuditEvent, InclusionProof, SignedTreeHead

pytestmark = pytest.mark.e2e


def _client(stack) -> httpx.Client:  # noqa: ANN001
    return httpx.Client(base_url=stack.api_url, verify=ssl.create_default_context(cafile=str(stack.ca_cert)),
                        timeout=30)


def _admitted_patient(stack, c: httpx.Client) -> str:  # noqa: ANN001
    clerk = {"Authorization": f"Bearer {stack.token(role='registration_clerk')}"}
    body = {"patient": {"identifier": f"E2E-{uuid.uuid4().hex[:8]}", "given": "Aiko", "family": "Larsen",
                        "birth_date": "1980-05-06", "gender": "female"},
            "ward": "medical", "reason": "observation", "consent": True}
    r = c.post("/api/v1/admissions", json=body, headers=clerk)
    assert r.status_code == 202, r.text
    patient_id = r.json()["patient_id"]
    for _ in range(240):
        read = c.get(f"/api/v1/patients/{patient_id}", headers=clerk)
        if read.status_code == 200:
            return patient_id
        time.sleep(0.25)
    raise AssertionError(f"patient never readable: {read.status_code}")


def test_compliance_search_fhir_and_export_over_https(stack, tmp_path: Path) -> None:  # noqa: ANN001
    compliance = {"Authorization": f"Bearer {stack.token(role='compliance_officer')}"}
    with _client(stack) as c:
        patient_id = _admitted_patient(stack, c)
        r = c.get("/api/v1/audit", params={"patient": patient_id}, headers=compliance)
        assert r.status_code == 200, r.text
        body = r.json()
        key = verify.load_public_key(body["public_key_pem"])
        head = SignedTreeHead.from_dict(body["signed_head"])
        subtypes = []
        for item in body["entries"]:
            event = AuditEvent.from_dict(item["event"])
            proof = InclusionProof.from_dict(item["inclusion_proof"])
            assert verify.verify_inclusion(event.canonical_bytes(), item["index"], proof, head, key)
            subtypes.append(event.subtype)
        assert "admission.create" in subtypes and "patient.read" in subtypes and "audit.search" in subtypes
        assert "Larsen" not in r.text and "Aiko" not in r.text

        f = c.get("/fhir/r4/AuditEvent", params={"patient": patient_id}, headers=compliance)
        assert f.status_code == 200 and f.headers["content-type"].startswith("application/fhir+json")
        assert f.json()["resourceType"] == "Bundle" and f.json()["type"] == "searchset"
        nurse = {"Authorization": f"Bearer {stack.token(role='nurse')}"}
        denied = c.get("/fhir/r4/AuditEvent", headers=nurse)
        assert denied.status_code == 403 and denied.json()["resourceType"] == "OperationOutcome"

    out = tmp_path / "audit.ndjson"
    export = stack.hms("audit", "export", "--out", str(out), "--patient", patient_id)
    assert export.returncode == 0, export.stderr
    lines = out.read_text().splitlines()
    assert json.loads(lines[0])["type"] == "header" and len(lines) >= 4
    pem = out.with_suffix(".pub.pem")
    check = subprocess.run([sys.executable, "-m", "ledger.verify_export", str(out), "--public-key", str(pem)],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    q = stack.hms("audit", "query", "--patient", patient_id, "--action", "R")
    assert q.returncode == 0 and "all proofs verified" in q.stdout and "admission.create" not in q.stdout
    v = stack.hms("audit", "verify")
    assert v.returncode == 0, v.stderr
    assert "checkpoint" in v.stdout
