"""The running stack over HTTPS: admission end to end, the ledger, TLS 1.3 only, the CLI."""
from __future__ import annotations

import socket
import ssl
import time
import uuid

import httpx
import pytest

pytestmark = pytest.mark.e2e


def client(stack) -> httpx.Client:  # noqa: ANN001
    return httpx.Client(base_url=stack.api_url, verify=ssl.create_default_context(cafile=str(stack.ca_cert)),
                        timeout=30)


def test_health_without_auth(stack) -> None:  # noqa: ANN001
    with client(stack) as c:
        r = c.get("/healthz")
    assert r.status_code == 200 and r.json()["status"] == "ok"


def test_tls12_refused_tls13_accepted(stack) -> None:  # noqa: ANN001
    port = stack.settings.api_port
    old = ssl.create_default_context(cafile=str(stack.ca_cert))
    old.maximum_version = ssl.TLSVersion.TLSv1_2
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, pytest.raises(ssl.SSLError):
        with old.wrap_socket(raw, server_hostname="127.0.0.1"):
            pass
    new = ssl.create_default_context(cafile=str(stack.ca_cert))
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with new.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            assert tls.version() == "TLSv1.3"


def test_admission_over_https_is_audited_and_verifiable(stack) -> None:  # noqa: ANN001
    clerk = {"Authorization": f"Bearer {stack.token(role='registration_clerk')}"}
    attending = {"Authorization": f"Bearer {stack.token(user='attending-1')}"}
    body = {"patient": {"identifier": f"E2E-{uuid.uuid4().hex[:8]}", "given": "Meera", "family": "Okafor",
                        "birth_date": "1991-07-30", "gender": "female"},
            "ward": "surgical", "reason": "appendicitis", "consent": True}
    with client(stack) as c:
        assert c.post("/api/v1/admissions", json=body).status_code == 401
        r = c.post("/api/v1/admissions", json=body, headers=clerk)
        assert r.status_code == 202, r.text
        out = r.json()
        for _ in range(240):
            j = c.get(f"/api/v1/journeys/{out['journey_id']}", headers=attending)
            if j.status_code == 200 and j.json()["stage"] == "admitted":
                break
            time.sleep(0.25)
        assert j.status_code == 200 and j.json()["stage"] == "admitted", j.text
        assert j.json()["bed_id"].startswith("surgical-")
        p = c.get(f"/api/v1/patients/{out['patient_id']}", headers=attending)
        assert p.status_code == 200 and p.json()["encounter"]["status"] == "in-progress"
        billing = {"Authorization": f"Bearer {stack.token(role='manager')}"}
        assert c.get(f"/api/v1/patients/{out['patient_id']}", headers=billing).status_code == 403

    q = stack.hms("audit", "query", "--patient", out["patient_id"])
    assert q.returncode == 0, q.stderr
    assert "admission.create" in q.stdout and "patient.read" in q.stdout and "DENIED" in q.stdout
    assert "all proofs verified" in q.stdout
    assert "Okafor" not in q.stdout and "Meera" not in q.stdout
    v = stack.hms("audit", "verify")
    assert v.returncode == 0, v.stderr
    assert stack.hms("status").returncode == 0


def test_demo_journeys_complete(stack) -> None:  # noqa: ANN001
    r = stack.hms("demo", "--patients", "3", timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "| completed | 3 |" in r.stdout and "| failed | 0 |" in r.stdout
