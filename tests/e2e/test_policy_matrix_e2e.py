"""The roles matrix of DESIGN.md over HTTPS against the running stack: every role × every kind × read/write.

One patient, the seeded demo patient (the ``patient-1`` user is that patient), is admitted to the
medical ward (care team A: attending-1, nurse-medical-1, triage-nurse-1; triage-nurse-1 works in the
emergency department, so not on this patient's ward). Around them: a PSY-labelled and an
unlabelled note, a journey, an imaging order assigned to radiologist-1 with its study and report
task, a medication order, the stay's charges, consents. Every cell is one real request with the
role's own token from ``hms token --user``. A denied cell must answer 403; an allowed cell must get
past the policy (2xx, or a 409/422 that the route or the workflow raised after authorizing: the
write probes are built so an allowed write changes nothing, e.g. an off-formulary drug). Break-glass
requests run last, since a grant changes what its holder may read.
"""
from __future__ import annotations

import ssl
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from deploy.seed import DEMO_PATIENT, demo_patient_id
from deploy.tokens import issue_token

pytestmark = pytest.mark.e2e

KINDS = ("demographics", "psy_note", "note", "journey", "tasks", "imaging", "medication", "billing", "audit",
         "aggregates", "consents", "break_glass")

#: Expected outcomes, read from DESIGN.md "Roles and what they may see". Each cell: R (read allowed) or -
#: (refused), then W (write allowed) or - (refused) or . (no write exists for this kind of resource).
MATRIX = """
role                | user            | demog psy  note journ tasks imag  med   bill  audit aggr  cons  bglass
registration_clerk  | registration-1  | RW    --   --   --    R-    --    --    -.    -.    -.    RW    --
triage_nurse        | triage-nurse-1  | --    --   --   --    R-    --    --    -.    -.    -.    --    -W
nurse               | nurse-medical-1 | R-    R-   R-   RW    R-    --    R-    -.    -.    -.    R-    -W
attending_physician | attending-1     | R-    RW   RW   RW    R-    RW    RW    -.    -.    -.    R-    -W
radiologist         | radiologist-1   | --    --   --   --    RW    RW    --    -.    -.    -.    --    -W
pharmacist          | pharmacist-1    | R-    --   --   --    R-    --    R-    -.    -.    -.    --    -W
billing_clerk       | billing-1       | R-    --   --   --    R-    --    --    R.    -.    -.    --    --
manager             | manager-1       | --    --   --   --    --    --    --    -.    -.    R.    --    --
compliance_officer  | compliance-1    | --    --   --   --    R-    --    --    -.    R.    -.    --    R-
admin               | admin-1         | --    --   --   --    --    --    --    -.    -.    -.    --    --
patient             | patient-1       | R-    R-   R-   R-    --    R-    R-    R.    -.    -.    RW    --
"""
#: What the write probe of each kind does, for the failure messages.
WRITES = {
    "demographics": "start the same admission", "psy_note": "write a PSY note", "note": "write a note",
    "journey": "start a triage stage", "tasks": "complete the radiologist's report task (empty payload)",
    "imaging": "attach the study again", "medication": "order an off-formulary drug",
    "consents": "record consent to TREAT", "break_glass": "request break-glass",
}
READS = {
    "demographics": "GET patient", "psy_note": "GET PSY note", "note": "GET note", "journey": "GET journey",
    "tasks": "list own inbox", "imaging": "GET study", "medication": "GET medication order",
    "billing": "list the stay's charges", "audit": "audit query", "aggregates": "arrivals forecast",
    "consents": "GET consents", "break_glass": "list grants",
}
REASON = "matrix test: emergency access to verify the policy over HTTPS"


@dataclass(frozen=True)
class Row:
    role: str
    user: str
    cells: dict[str, str]


def parse_matrix(text: str) -> list[Row]:
    rows = []
    for line in text.strip().splitlines()[1:]:
        role, user, cells = (part.strip() for part in line.split("|"))
        values = cells.split()
        assert len(values) == len(KINDS) and all(len(v) == 2 for v in values), line
        rows.append(Row(role, user, dict(zip(KINDS, values, strict=True))))
    return rows


ROWS = parse_matrix(MATRIX)


@dataclass
class World:
    patient_id: str
    journey_id: str
    encounter_id: str
    psy_note: str
    note: str
    order_id: str
    study_id: str
    medication_order: str
    report_task: str
    admission: dict[str, Any]


def _client(stack) -> httpx.Client:  # noqa: ANN001
    return httpx.Client(base_url=stack.api_url, verify=ssl.create_default_context(cafile=str(stack.ca_cert)),
                        timeout=60)


def _eventually(what: str, probe: Callable[[], Any], timeout: float = 240) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def headers(stack) -> Callable[[str], dict[str, str]]:  # noqa: ANN001
    def for_user(user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {stack.token(user=user)}"}
    return for_user


@pytest.fixture(scope="module")
def world(stack, headers) -> World:  # noqa: ANN001
    """The demo patient admitted, with notes, an imaging order and study, and a medication order."""
    patient_id = demo_patient_id(stack.settings)
    d = DEMO_PATIENT
    admission = {"patient": {"identifier": d.value, "given": d.given, "family": d.family,
                             "birth_date": d.birth_date.isoformat(), "gender": d.gender},
                 "ward": "medical", "reason": "matrix observation", "attending": "attending-1", "consent": True}
    attending = headers("attending-1")
    with _client(stack) as c:
        r = c.post("/api/v1/admissions", json=admission, headers=headers("registration-1"))
        assert r.status_code in (200, 202), r.text
        started = r.json()
        assert started["patient_id"] == patient_id  # the seeded record, found by its identifier
        journey_id = started["journey_id"]
        _eventually("admission", lambda: c.get(f"/api/v1/journeys/{journey_id}", headers=attending)
                    .json().get("stage") == "admitted")
        psy = c.post(f"/api/v1/patients/{patient_id}/notes", json={"text": "Matrix: mood review.",
                                                                   "sensitivity": ["PSY"]}, headers=attending)
        note = c.post(f"/api/v1/patients/{patient_id}/notes", json={"text": "Matrix: afebrile."}, headers=attending)
        assert psy.status_code == note.status_code == 201
        order_id = str(uuid.uuid4())
        ordered = c.post(f"/api/v1/journeys/{journey_id}/imaging-orders", headers=attending, json={
            "modality": "CR", "body_site": "chest", "reason_code": "R07.4", "radiologist": "radiologist-1",
            "order_id": order_id})
        assert ordered.status_code == 202, ordered.text

        def attach() -> dict | None:
            a = c.post(f"/api/v1/imaging/orders/{order_id}/study", headers=headers("radiologist-1"),
                       json={"reference": f"urn:hms:matrix-pacs:{order_id}"})
            return a.json() if a.status_code == 202 else None

        study_id = _eventually("the imaging order", attach)["study_id"]

        def report_task() -> str | None:
            tasks = c.get("/api/v1/tasks", params={"patient": patient_id, "role": "radiologist"},
                          headers=headers("radiologist-1")).json()
            return next((t["id"] for t in tasks if t["type"] == "imaging-report"), None)

        task_id = _eventually("the report task", report_task)
        med_id = str(uuid.uuid4())
        med = c.post(f"/api/v1/journeys/{journey_id}/medication-orders", headers=attending, json={
            "drug_code": "161", "dose": 1000, "unit": "mg", "route": "PO", "frequency_hours": 6, "doses": 1,
            "order_id": med_id})
        assert med.status_code == 202, med.text
        _eventually("the medication order",
                    lambda: c.get(f"/api/v1/medication-orders/{med_id}", headers=attending).status_code == 200)
        _eventually("the study", lambda: c.get(f"/api/v1/imaging/studies/{study_id}",
                                               headers=attending).status_code == 200)
    return World(patient_id=patient_id, journey_id=journey_id, encounter_id=started["encounter_id"],
                 psy_note=psy.json()["id"], note=note.json()["id"], order_id=order_id, study_id=study_id,
                 medication_order=med_id, report_task=task_id, admission=admission)


def read_probe(kind: str, w: World, role: str) -> tuple[str, str, dict[str, Any]]:
    p = w.patient_id
    return {
        "demographics": ("GET", f"/api/v1/patients/{p}", {}),
        "psy_note": ("GET", f"/api/v1/notes/{w.psy_note}", {}),
        "note": ("GET", f"/api/v1/notes/{w.note}", {}),
        "journey": ("GET", f"/api/v1/journeys/{w.journey_id}", {}),
        "tasks": ("GET", "/api/v1/tasks", {"params": {"role": role}}),
        "imaging": ("GET", f"/api/v1/imaging/studies/{w.study_id}", {}),
        "medication": ("GET", f"/api/v1/medication-orders/{w.medication_order}", {}),
        "billing": ("GET", f"/api/v1/encounters/{w.encounter_id}/charges", {}),
        "audit": ("GET", "/api/v1/audit", {"params": {"patient": p}}),
        "aggregates": ("POST", "/api/v1/forecast/arrivals", {"json": {"hours": 6}}),
        "consents": ("GET", f"/api/v1/patients/{p}/consents", {}),
        "break_glass": ("GET", "/api/v1/break-glass", {}),
    }[kind]


def write_probe(kind: str, w: World) -> tuple[str, str, dict[str, Any]]:
    p, j = w.patient_id, w.journey_id
    return {
        "demographics": ("POST", "/api/v1/admissions", {"json": w.admission}),
        "psy_note": ("POST", f"/api/v1/patients/{p}/notes", {"json": {"text": "Matrix write.", "sensitivity": ["PSY"]}}),
        "note": ("POST", f"/api/v1/patients/{p}/notes", {"json": {"text": "Matrix write."}}),
        "journey": ("POST", f"/api/v1/journeys/{j}/triage", {"json": {"stage_id": f"matrix-{j[-12:]}"}}),
        "tasks": ("POST", f"/api/v1/tasks/{w.report_task}/complete", {"json": {}}),
        "imaging": ("POST", f"/api/v1/imaging/orders/{w.order_id}/study",
                    {"json": {"reference": f"urn:hms:matrix-pacs:{w.order_id}"}}),
        "medication": ("POST", f"/api/v1/journeys/{j}/medication-orders", {"json": {
            "drug_code": "999999", "dose": 1, "unit": "mg", "route": "PO", "frequency_hours": 6, "doses": 1}}),
        "consents": ("POST", f"/api/v1/patients/{p}/consents", {"json": {"purpose": "TREAT"}}),
        "break_glass": ("POST", "/api/v1/break-glass", {"json": {"patient_id": p, "reason": REASON}}),
    }[kind]


def passed_policy(r: httpx.Response) -> bool:
    """Got past authorization: a success, or a refusal the route or workflow made after authorizing.

    A body-validation 422 comes before authorization and carries ``errors``: that is never a pass.
    """
    if r.status_code in (200, 201, 202, 409):
        return True
    return r.status_code == 422 and "errors" not in r.json()


def test_roles_matrix_over_https(stack, world: World, headers) -> None:  # noqa: ANN001
    cells: list[tuple[Row, str, str]] = []
    for action in ("read", "write"):
        for row in ROWS:
            for kind in KINDS:
                if kind == "break_glass" and action == "write":
                    continue  # last: a grant widens what its holder reads
                cells.append((row, kind, action))
    cells += [(row, "break_glass", "write") for row in ROWS]
    mismatches, checked, grants = [], 0, []
    with _client(stack) as c:
        for row, kind, action in cells:
            flag = row.cells[kind][0 if action == "read" else 1]
            if flag == ".":
                continue
            method, path, extra = (read_probe(kind, world, row.role) if action == "read"
                                   else write_probe(kind, world))
            r = c.request(method, path, headers=headers(row.user), **extra)
            checked += 1
            expected = flag in "RW"
            allowed = passed_policy(r)
            if expected != allowed or (not expected and r.status_code != 403):
                what = READS[kind] if action == "read" else WRITES[kind]
                mismatches.append(f"{row.role} {action} {kind} ({what}): expected "
                                  f"{'allow' if expected else '403'}, got {r.status_code} {r.text[:160]}")
            if kind == "break_glass" and action == "write" and r.status_code == 201:
                grants.append((row.user, r.json()["grant_id"]))
        for user, grant_id in grants:  # end the grants: their reviews open for compliance
            assert c.delete(f"/api/v1/break-glass/{grant_id}", headers=headers(user)).status_code == 200
    assert not mismatches, "\n".join(mismatches)
    assert checked == sum(1 for row in ROWS for v in row.cells.values() for f in v if f != ".")
    assert len(grants) == 5  # the five clinical roles
    verify = stack.hms("audit", "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_relationships_and_other_patients(stack, world: World, headers) -> None:  # noqa: ANN001
    """The same roles without the relationship: another care team, another ward, another patient."""
    with _client(stack) as c:
        for user in ("attending-2", "nurse-psychiatry-1"):
            for path in (f"/api/v1/patients/{world.patient_id}", f"/api/v1/notes/{world.note}"):
                r = c.get(path, headers=headers(user))
                assert r.status_code == 403, (user, path, r.text)
        other = c.post("/api/v1/admissions", headers=headers("registration-1"), json={
            "patient": {"identifier": f"MATRIX-{uuid.uuid4().hex[:8]}", "given": "Lena", "family": "Novak",
                        "birth_date": "1990-01-01", "gender": "female"},
            "ward": "surgical", "reason": "matrix other patient", "consent": True})
        assert other.status_code == 202, other.text
        other_path = f"/api/v1/patients/{other.json()['patient_id']}"
        _eventually("the other patient's registration",
                    lambda: c.get(other_path, headers=headers("registration-1")).status_code == 200)
        denied = c.get(other_path, headers=headers("patient-1"))
        assert denied.status_code == 403 and "their own" in denied.json()["detail"]


def test_expired_token_refused(stack, world: World) -> None:  # noqa: ANN001
    expired = issue_token(stack.settings, "attending-1", "attending_physician", ttl=-60)
    with _client(stack) as c:
        r = c.get(f"/api/v1/patients/{world.patient_id}", headers={"Authorization": f"Bearer {expired}"})
    assert r.status_code == 401 and "expired" in r.json()["detail"]
