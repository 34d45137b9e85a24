"""The acceptance matrix of DESIGN.md ("Roles and what they may see") as request cases.

One table, shared by the embedded-engine tests and the OPA contract suite so both
backends are held to the same decisions, and usable for benchmarks. Subjects are
the demo hospital's users; the record belongs to patient ``p1``: an inpatient on
the medical ward, care team ``team-a``, attending ``attending-1``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

NOW = "2026-11-25T13:00:00Z"


def _subject(sid: str, role: str, wards: tuple[str, ...] = (), teams: tuple[str, ...] = (),
             patient_id: str | None = None) -> dict[str, Any]:
    return {"id": sid, "role": role, "wards": list(wards), "care_teams": list(teams), "patient_id": patient_id}


SUBJECTS: dict[str, dict[str, Any]] = {
    "registration": _subject("registration-1", "registration_clerk"),
    "triage": _subject("triage-nurse-1", "triage_nurse", ("emergency",), ("team-er",)),
    "nurse": _subject("nurse-medical-1", "nurse", ("medical",), ("team-c",)),
    "nurse_team": _subject("nurse-medical-2", "nurse", ("medical",), ("team-a",)),
    "nurse_psych": _subject("nurse-psychiatry-1", "nurse", ("psychiatry",), ("team-psy",)),
    "attending": _subject("attending-1", "attending_physician", ("medical",), ("team-a",)),
    "attending2": _subject("attending-2", "attending_physician", ("medical",), ("team-b",)),
    "radiologist": _subject("radiologist-1", "radiologist"),
    "pharmacist": _subject("pharmacist-1", "pharmacist"),
    "billing": _subject("billing-1", "billing_clerk"),
    "manager": _subject("manager-1", "manager"),
    "compliance": _subject("compliance-1", "compliance_officer"),
    "admin": _subject("admin-1", "admin"),
    "patient": _subject("patient-p1", "patient", patient_id="p1"),
}


def record(rtype: str, **overrides: Any) -> dict[str, Any]:
    """A resource of patient p1 of type ``rtype``, with fields overridden."""
    base = {"type": rtype, "id": f"{rtype.lower()}-1", "patient_id": "p1", "ward": "medical",
            "care_teams": ["team-a"], "attending": "attending-1", "security": [], "task_role": None,
            "assigned_to": None, "inpatient": True, "deidentified": False}
    return base | overrides


def context(break_glass_for: str | None = None, *, expires_at: str = "2026-11-25T14:00:00Z",
            purpose: str | None = "TREAT") -> dict[str, Any]:
    """A request context at ``NOW``, optionally presenting a break-glass grant."""
    grant = {"patient_id": break_glass_for, "expires_at": expires_at} if break_glass_for else None
    return {"purpose": purpose, "now": NOW, "break_glass": grant}


@dataclass(frozen=True)
class Case:
    """One row: who does what to which resource, and the expected decision."""

    id: str
    input: dict[str, Any]
    allow: bool
    reason_contains: str = ""


def _case(cid: str, who: str, action: str, resource: dict[str, Any], allow: bool, reason: str = "",
          ctx: dict[str, Any] | None = None) -> Case:
    doc = {"subject": SUBJECTS[who], "action": action, "resource": resource, "context": ctx or context()}
    return Case(cid, doc, allow, reason)


PSY_NOTE = record("Note", security=["PSY"])
OTHER = {"patient_id": "p2", "ward": "surgical", "care_teams": ["team-b"], "attending": "attending-2"}
BG = context("p1", purpose=None)

CASES: list[Case] = [
    # registration_clerk: register, admit, demographics; never clinical content
    _case("registration-creates-patient", "registration", "create", record("Patient"), True),
    _case("registration-reads-demographics", "registration", "read", record("Patient"), True),
    _case("registration-starts-admission", "registration", "create", record("Admission"), True),
    _case("registration-reads-vitals", "registration", "read", record("Observation"), False, "no rule allows"),
    _case("registration-reads-note", "registration", "read", record("Note"), False),
    # nurses: vitals, triage, tasks, medication administration on their ward
    _case("nurse-records-vitals", "nurse", "create", record("Observation"), True, "on the patient's ward"),
    _case("nurse-gives-medication", "nurse", "create", record("MedicationAdministration"), True),
    _case("nurse-lists-tasks", "nurse", "list", record("Task", patient_id=None), True),
    _case("nurse-completes-nurse-task", "nurse", "complete", record("Task", task_role="nurse"), True),
    _case("nurse-other-ward-vitals", "nurse_psych", "read", record("Observation"), False, "ward"),
    _case("nurse-other-ward-task", "nurse_psych", "complete", record("Task", task_role="nurse"), False),
    _case("nurse-pharmacist-task", "nurse", "complete", record("Task", task_role="pharmacist"), False),
    _case("triage-scores-in-emergency", "triage", "create", record("TriageScore", ward="emergency"), True),
    _case("triage-scores-elsewhere", "triage", "create", record("TriageScore"), False),
    _case("nurse-psy-note-not-on-team", "nurse", "read", PSY_NOTE, False, "sensitive-labelled"),
    _case("nurse-psy-note-on-team", "nurse_team", "read", PSY_NOTE, True),
    _case("nurse-prescribes", "nurse", "create", record("MedicationRequest"), False),
    # attending_physician: everything for their care team; others only by break-glass
    _case("attending-reads-psy-note", "attending", "read", PSY_NOTE, True, "care team"),
    _case("attending-writes-note", "attending", "create", record("Note"), True),
    _case("attending-orders-imaging", "attending", "create", record("ServiceRequest"), True),
    _case("attending-decodes-payload", "attending", "read", record("CodecDecode"), True),
    _case("attending-other-team", "attending2", "read", record("Observation"), False, "break-glass"),
    _case("attending-other-team-psy", "attending2", "read", PSY_NOTE, False),
    _case("attending-break-glass", "attending2", "read", PSY_NOTE, True, "break-glass", BG),
    _case("attending-break-glass-etreat", "attending2", "read", record("Note"), True, "[purpose ETREAT]", BG),
    _case("attending-break-glass-expired", "attending2", "read", record("Note"), False, "",
          context("p1", expires_at="2026-11-25T12:00:00Z")),
    _case("attending-break-glass-other-patient", "attending2", "read", record("Note"), False, "",
          context("p2")),
    # radiologist: assigned imaging work plus non-sensitive context
    _case("radiologist-assigned-order", "radiologist", "read",
          record("ServiceRequest", assigned_to="radiologist-1"), True, "assigned"),
    _case("radiologist-writes-report", "radiologist", "create",
          record("DiagnosticReport", assigned_to="radiologist-1"), True),
    _case("radiologist-unassigned-study", "radiologist", "read",
          record("ImagingStudy", assigned_to="radiologist-2"), False),
    _case("radiologist-context", "radiologist", "read", record("Condition", assigned_to="radiologist-1"), True),
    _case("radiologist-psy-context", "radiologist", "read",
          record("Condition", assigned_to="radiologist-1", security=["PSY"]), False),
    _case("radiologist-note", "radiologist", "read", record("Note", assigned_to="radiologist-1"), False),
    # pharmacist: medication, allergies, labs of inpatients; never notes
    _case("pharmacist-order", "pharmacist", "read", record("MedicationRequest"), True, "inpatient"),
    _case("pharmacist-allergy", "pharmacist", "read", record("AllergyIntolerance"), True),
    _case("pharmacist-labs", "pharmacist", "read", record("Observation"), True),
    _case("pharmacist-outpatient", "pharmacist", "read", record("MedicationRequest", inpatient=False), False),
    _case("pharmacist-note", "pharmacist", "read", record("Note"), False, "clinical notes"),
    _case("pharmacist-note-break-glass", "pharmacist", "read", record("Note"), False, "clinical notes", BG),
    # billing_clerk: encounters, charges, invoices, claims, coverage, demographics, diagnoses
    _case("billing-encounter", "billing", "read", record("Encounter"), True),
    _case("billing-charge", "billing", "create", record("ChargeItem"), True),
    _case("billing-invoice", "billing", "update", record("Invoice"), True),
    _case("billing-claim", "billing", "create", record("Claim"), True),
    _case("billing-coverage", "billing", "read", record("Coverage"), True),
    _case("billing-demographics", "billing", "read", record("Patient"), True),
    _case("billing-diagnosis", "billing", "read", record("Condition"), True),
    _case("billing-purpose", "billing", "read", record("Invoice"), True, "[purpose HPAYMT]",
          context(purpose="HPAYMT")),
    _case("billing-psy-note", "billing", "read", PSY_NOTE, False, "sensitive-labelled resources (PSY)"),
    _case("billing-note", "billing", "read", record("Note"), False, "clinical notes"),
    _case("billing-hiv-condition", "billing", "read", record("Condition", security=["HIV"]), False, "(HIV)"),
    _case("billing-break-glass", "billing", "read", record("Observation"), False, "", BG),
    # manager: de-identified aggregates only
    _case("manager-occupancy", "manager", "read", {"type": "Aggregate", "id": "occupancy"}, True, "de-identified"),
    _case("manager-forecast", "manager", "read", {"type": "Forecast", "id": "admissions"}, True),
    _case("manager-patient", "manager", "read", record("Patient"), False, "single patient"),
    _case("manager-aggregate-with-patient", "manager", "read", {"type": "Aggregate", "patient_id": "p1"}, False),
    _case("manager-break-glass", "manager", "read", record("Patient"), False, "", BG),
    # compliance_officer: the ledger and break-glass review; no clinical content
    _case("compliance-audit-search", "compliance", "search", {"type": "AuditLog", "patient_id": "p1"}, True),
    _case("compliance-break-glass-review", "compliance", "update", {"type": "BreakGlass", "id": "bg-1"}, True),
    _case("compliance-note", "compliance", "read", record("Note"), False, "clinical content"),
    _case("compliance-break-glass-use", "compliance", "read", record("Note"), False, "", BG),
    _case("attending-audit-search", "attending", "search", {"type": "AuditLog"}, False),
    # admin: configuration and users; no patient data
    _case("admin-configuration", "admin", "update", {"type": "Configuration", "id": "wards"}, True),
    _case("admin-user", "admin", "create", {"type": "User", "id": "nurse-icu-1"}, True),
    _case("admin-patient", "admin", "read", record("Patient"), False, "patient data"),
    _case("admin-decode", "admin", "read", record("CodecDecode"), False),
    _case("admin-break-glass", "admin", "read", record("Patient"), False, "", BG),
    # patient: own records and consents; nobody else's
    _case("patient-own-observation", "patient", "read", record("Observation"), True, "own record"),
    _case("patient-own-consent-withdrawal", "patient", "update", record("Consent"), True),
    _case("patient-correction-request", "patient", "create", record("Task"), True),
    _case("patient-other-record", "patient", "read", record("Observation", **OTHER), False, "their own"),
    _case("patient-other-consent", "patient", "update", record("Consent", **OTHER), False),
    # consent (DPDP, HIPAA): a withdrawn purpose stops processing except emergency treatment
    _case("consent-withdrawn-treatment", "attending", "read", record("Observation", consent={"TREAT": "withdrawn"}),
          False, "withdrawn consent to TREAT"),
    _case("consent-withdrawn-emergency", "attending", "read", record("Observation", consent={"TREAT": "withdrawn"}),
          True, "[purpose ETREAT]", context(purpose="ETREAT")),
    _case("consent-withdrawn-discharge", "attending", "update", record("Encounter", consent={"TREAT": "withdrawn"}),
          True),
    _case("registration-withdraws-consent", "registration", "update", record("Consent"), True),
    _case("registration-completes-correction", "registration", "complete",
          record("Task", task_role="registration_clerk"), True),
    # break-glass requests: clinical roles only
    _case("nurse-requests-break-glass", "nurse_psych", "create", {"type": "BreakGlass", "patient_id": "p1"}, True),
    _case("pharmacist-requests-break-glass", "pharmacist", "create", {"type": "BreakGlass", "patient_id": "p1"},
          True),
    _case("billing-requests-break-glass", "billing", "create", {"type": "BreakGlass", "patient_id": "p1"}, False,
          "only for clinical roles"),
    _case("manager-requests-break-glass", "manager", "create", {"type": "BreakGlass", "patient_id": "p1"}, False),
]
