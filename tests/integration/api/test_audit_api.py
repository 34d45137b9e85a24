"""Compliance surfaces over the API: /api/v1/audit with proofs, and FHIR AuditEvent read/search."""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fhir.resources.R4B.auditevent import AuditEvent as FhirAuditEvent
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.operationoutcome import OperationOutcome

from ledger import verify
from ledger.embedded import EmbeddedLedger
from ledger.model import AuditEvent, InclusionProof, SignedTreeHead
from tests.integration.api.test_admissions_api import admission_body

pytestmark = pytest.mark.integration
Auth = Callable[..., dict[str, str]]
COMPLIANCE = ("compliance-1", "compliance_officer")


async def _patient_with_history(api: httpx.AsyncClient, auth: Auth) -> str:
    r = await api.post("/api/v1/admissions", json=admission_body(), headers=auth("registration-1", "registration_clerk"))
    assert r.status_code == 202, r.text
    patient_id = r.json()["patient_id"]
    for _ in range(300):  # the journey registers the patient; until then a read is a 404 that records nothing
        read = await api.get(f"/api/v1/patients/{patient_id}", headers=auth("registration-1", "registration_clerk"))
        if read.status_code != 404:
            break
        await asyncio.sleep(0.1)
    assert read.status_code == 200, read.text
    assert (await api.get(f"/api/v1/patients/{patient_id}", headers=auth("manager-1", "manager"))).status_code == 403
    return patient_id


def _verified(body: dict) -> list[AuditEvent]:
    """Check the answer as a compliance officer's tool would: head signature and every proof."""
    key = verify.load_public_key(body["public_key_pem"])
    head = SignedTreeHead.from_dict(body["signed_head"])
    assert verify.verify_head(head, key)
    events = []
    for item in body["entries"]:
        event = AuditEvent.from_dict(item["event"])
        proof = InclusionProof.from_dict(item["inclusion_proof"])
        assert verify.verify_inclusion(event.canonical_bytes(), item["index"], proof, head, key)
        events.append(event)
    return events


async def test_compliance_officer_searches_with_proofs(api: httpx.AsyncClient, auth: Auth) -> None:
    patient_id = await _patient_with_history(api, auth)
    r = await api.get("/api/v1/audit", params={"patient": patient_id}, headers=auth(*COMPLIANCE))
    assert r.status_code == 200, r.text
    events = _verified(r.json())
    api_events = [(e.actor, e.subtype, e.decision) for e in events if e.source == "api"]
    assert api_events == [("registration-1", "admission.create", "allow"), ("registration-1", "patient.read", "allow"),
                          ("manager-1", "patient.read", "deny"), ("compliance-1", "audit.search", "allow")]
    assert all(e.patient_id == patient_id for e in events)

    denied = await api.get("/api/v1/audit", params={"actor": "manager-1", "action": "R"}, headers=auth(*COMPLIANCE))
    assert {(e.actor, e.action) for e in _verified(denied.json())} == {("manager-1", "R")}
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    empty = await api.get("/api/v1/audit", params={"patient": patient_id, "since": later}, headers=auth(*COMPLIANCE))
    assert empty.status_code == 200 and empty.json()["entries"] == []
    window = await api.get("/api/v1/audit", params={"patient": patient_id, "until": later, "limit": 2},
                           headers=auth(*COMPLIANCE))
    assert len(_verified(window.json())) == 2


async def test_only_compliance_officers_and_every_search_is_recorded(api: httpx.AsyncClient, auth: Auth,
                                                                     ledger: EmbeddedLedger) -> None:
    r = await api.get("/api/v1/audit", params={"patient": "p-1"}, headers=auth("attending-1", "attending_physician"))
    assert r.status_code == 403
    last = ledger.get(ledger.size() - 1).event
    assert (last.actor, last.subtype, last.decision, last.resource_type) == ("attending-1", "audit.search", "deny",
                                                                             "AuditLog")
    assert (await api.get("/api/v1/audit")).status_code == 401
    size = ledger.size()
    for params, field in (({"since": "yesterday"}, "since"), ({"until": "2026-01-01T00:00:00"}, "until"),
                          ({"action": "X"}, "action"), ({"limit": 0}, "limit")):
        bad = await api.get("/api/v1/audit", params=params, headers=auth(*COMPLIANCE))
        assert bad.status_code == 422 and field in bad.text
    assert ledger.size() == size  # refused before anything was touched


async def test_fhir_audit_event_search_and_read(api: httpx.AsyncClient, auth: Auth) -> None:
    patient_id = await _patient_with_history(api, auth)
    today = datetime.now(UTC).date().isoformat()
    r = await api.get("/fhir/r4/AuditEvent", params={"patient": f"Patient/{patient_id}", "date": f"ge{today}",
                                                     "_count": 50}, headers=auth(*COMPLIANCE))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/fhir+json")
    bundle = Bundle.model_validate(r.json())
    assert bundle.type == "searchset" and bundle.entry
    events = [FhirAuditEvent.model_validate(e.resource.model_dump()) for e in bundle.entry]
    assert all(any(ent.what.reference == f"Patient/{patient_id}" for ent in e.entity) for e in events)
    reads = [e for e in events if e.subtype and e.subtype[0].code == "patient.read"]
    assert {(e.agent[0].who.identifier.value, e.outcome) for e in reads} == {("registration-1", "0"),
                                                                             ("manager-1", "4")}

    by_agent = await api.get("/fhir/r4/AuditEvent", params={"agent": "manager-1", "action": "R", "_count": 1},
                             headers=auth(*COMPLIANCE))
    page = Bundle.model_validate(by_agent.json())
    assert len(page.entry) == 1 and any(link.relation == "next" for link in page.link)
    none = await api.get("/fhir/r4/AuditEvent", params={"patient": patient_id, "date": "lt2000-01-01"},
                         headers=auth(*COMPLIANCE))
    assert Bundle.model_validate(none.json()).entry is None

    one = await api.get(f"/fhir/r4/AuditEvent/{events[0].id}", headers=auth(*COMPLIANCE))
    assert one.status_code == 200 and one.headers["content-type"].startswith("application/fhir+json")
    assert FhirAuditEvent.model_validate(one.json()).id == events[0].id


@pytest.mark.parametrize(("path", "params", "who", "status", "code"), [
    ("/fhir/r4/AuditEvent", {"date": "tomorrow"}, COMPLIANCE, 400, "invalid"),
    ("/fhir/r4/AuditEvent", {"date": "ge2026-01-01T10:00:00"}, COMPLIANCE, 400, "invalid"),
    ("/fhir/r4/AuditEvent", {"subject": "x"}, COMPLIANCE, 400, "invalid"),
    ("/fhir/r4/AuditEvent", {"_count": "many"}, COMPLIANCE, 400, "invalid"),
    ("/fhir/r4/AuditEvent", {}, ("attending-1", "attending_physician"), 403, "forbidden"),
    ("/fhir/r4/AuditEvent", {}, None, 401, "login"),
    ("/fhir/r4/AuditEvent/999999999", {}, COMPLIANCE, 404, "not-found"),
    ("/fhir/r4/AuditEvent/abc", {}, COMPLIANCE, 404, "not-found"),
    ("/fhir/r4/AuditEvent/0", {}, ("billing-1", "billing_clerk"), 403, "forbidden"),
])
async def test_fhir_errors_are_operation_outcomes(api: httpx.AsyncClient, auth: Auth, path: str, params: dict,
                                                  who: tuple[str, str] | None, status: int, code: str) -> None:
    r = await api.get(path, params=params, headers=auth(*who) if who else {})
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/fhir+json")
    outcome = OperationOutcome.model_validate(r.json())
    assert outcome.issue[0].code == code
