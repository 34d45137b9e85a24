"""Discharge checks and the discharge summary as a FHIR R4 ``Composition``.

Both work from the journey's stage summaries, which carry codes and ids only, so
the summary's sections hold structure (references, statuses, decisions) and its
narratives are generated from those codes — no clinical free text is copied.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from html import escape
from typing import Any

from fhir.resources.R4B.composition import Composition

from workflows.stages import StageStatus

LOINC = "http://loinc.org"
CONFIDENTIALITY = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"

#: Stage kinds whose results can be pending, and the FHIR type their stage ids stand for.
STAGE_RESOURCE = {"imaging": "ServiceRequest", "pharmacy": "MedicationRequest", "triage": "Observation"}
REPORTED = {"final", "amended", "corrected", "reported", "completed"}
#: Wards whose stays are labelled sensitive (HL7 v3 ActCode PSY).
SENSITIVE_WARDS = {"psychiatry": "PSY"}


def _flagged(result: dict[str, Any]) -> bool:
    return bool(result.get("flagged")) or str(result.get("priority", "")).lower() in {"flagged", "critical", "stat"}


def _reported(result: dict[str, Any]) -> bool:
    if "reported" in result:
        return bool(result["reported"])
    return str(result.get("report_status", "")).lower() in REPORTED


def pending_results(stages: Sequence[StageStatus]) -> list[dict[str, str]]:
    """What blocks discharge: imaging still running, or a flagged study without a final report."""
    blockers = []
    for st in stages:
        if st.kind != "imaging":
            continue
        if st.status == "running":
            blockers.append({"stage_id": st.stage_id, "kind": st.kind, "reason": "imaging-in-progress"})
        elif st.status == "completed" and _flagged(st.result) and not _reported(st.result):
            blockers.append({"stage_id": st.stage_id, "kind": st.kind, "reason": "flagged-study-unreported"})
    return blockers


def active_medication_orders(stages: Sequence[StageStatus], extra: Sequence[str] = ()) -> list[str]:
    """Orders to reconcile: pharmacy stages still running (their stage id is the order) plus named ones."""
    orders = [st.stage_id for st in stages if st.kind == "pharmacy" and st.status == "running"]
    orders += [o for o in extra if o not in orders]
    return orders


def security_labels(ward: str) -> list[str]:
    return [SENSITIVE_WARDS[ward]] if ward in SENSITIVE_WARDS else []


def _section(title: str, code: str, display: str, lines: list[str], entries: list[str]) -> dict[str, Any]:
    items = "".join(f"<li>{escape(line)}</li>" for line in lines) or "<li>none</li>"
    section: dict[str, Any] = {
        "title": title, "code": {"coding": [{"system": LOINC, "code": code, "display": display}]},
        "text": {"status": "generated", "div": f'<div xmlns="http://www.w3.org/1999/xhtml"><ul>{items}</ul></div>'},
    }
    if entries:
        section["entry"] = [{"reference": ref} for ref in entries]
    return section


def build_composition(composition_id: str, *, patient_id: str, encounter_id: str, ward: str, attending: str | None,
                      at: datetime, stages: Sequence[StageStatus], medications: dict[str, str],
                      follow_up_date: date | None, follow_up_clinic: str | None) -> dict[str, Any]:
    """The discharge summary (LOINC 18842-5) of a stay, validated as an R4 Composition."""
    course = [st for st in stages if st.kind not in ("discharge", "billing")]
    course_lines = [f"{st.kind} {st.stage_id}: {st.status}" for st in course]
    course_refs = [f"{STAGE_RESOURCE[st.kind]}/{st.stage_id}" for st in course if st.kind in STAGE_RESOURCE]
    continued = sorted(o for o, d in medications.items() if d == "continue")
    med_lines = [f"MedicationRequest {o}: {d}" for o, d in sorted(medications.items())]
    plan = [f"follow-up {follow_up_date.isoformat()} at clinic {follow_up_clinic}"] if follow_up_date else []
    meta: dict[str, Any] = {"security": [{"system": CONFIDENTIALITY, "code": "R"}]
                            + [{"system": ACT_CODE, "code": code} for code in security_labels(ward)]}
    comp = Composition.model_validate({
        "resourceType": "Composition", "id": composition_id, "meta": meta, "status": "final",
        "type": {"coding": [{"system": LOINC, "code": "18842-5", "display": "Discharge summary"}]},
        "subject": {"reference": f"Patient/{patient_id}"},
        "encounter": {"reference": f"Encounter/{encounter_id}"},
        "date": at, "title": "Discharge summary",
        "author": [{"reference": f"Practitioner/{attending}"} if attending else {"display": "attending physician"}],
        "confidentiality": "R",
        "section": [
            _section("Hospital course", "8648-8", "Hospital course Narrative", course_lines, course_refs),
            _section("Discharge medications", "10183-2", "Hospital discharge medications Narrative", med_lines,
                     [f"MedicationRequest/{o}" for o in continued]),
            _section("Plan of care", "18776-5", "Plan of care note", plan, []),
        ],
    })
    return comp.model_dump(mode="json", exclude_none=True)
