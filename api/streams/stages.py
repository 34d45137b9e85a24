"""The ``data`` of a stage event that names a stage's row (``<source>/<row id>``, migration 0902).

The journey's stages store rows in their own tables, and a trigger turns each new row or real
change of state into a ``stage`` event. What a subscriber gets is the stage as it is when pushed:
which stage (``triage``, ``imaging``, ``pharmacy``, ``discharge``, ``billing``), its status and
the ids of the rows involved — never clinical values (no scores, codes, findings or amounts).
"""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from activities.storage.models import Encounter
from activities.storage.models_billing import BedCleaning, Claim, DischargeSummary, Invoice
from activities.storage.models_imaging import DiagnosticReport, ImagingOrder, ImagingStudy
from activities.storage.models_pharmacy import MedicationOrder
from activities.storage.models_triage import TriageAssessment

#: The stage each source (the ``ref`` prefix) belongs to.
STAGE_OF_SOURCE = {"triage": "triage", "imaging-order": "imaging", "imaging-study": "imaging",
                   "medication-order": "pharmacy", "discharge": "discharge", "invoice": "billing", "claim": "billing"}
#: An imaging order's status (FHIR ServiceRequest) as a step of the stage.
IMAGING_STATUS = {"active": "ordered", "completed": "reported", "revoked": "cancelled"}


def source_of(ref: str) -> tuple[str, str] | None:
    """(source, row id) of a stage row's ref; None for any other ref (an encounter id, say)."""
    source, slash, row_id = ref.partition("/")
    return (source, row_id) if slash and row_id and source in STAGE_OF_SOURCE else None


def describe(s: Session, source: str, row_id: str) -> dict[str, Any] | None:
    """The stage row as the event's data; None when it is gone."""
    found = _READERS[source](s, row_id)
    if found is None:
        return None
    encounter_id = found.pop("encounter_id", None)
    enc = s.get(Encounter, encounter_id) if encounter_id else None
    return {"stage": STAGE_OF_SOURCE[source], "source": source, **found, "encounter_id": encounter_id,
            "journey_id": enc.journey_id if enc else None}


def _triage(s: Session, row_id: str) -> dict[str, Any] | None:
    a = s.get(TriageAssessment, row_id)
    if a is None:
        return None
    return {"status": "assessed", "assessment_id": a.id, "triage_id": a.triage_id, "sequence": a.sequence,
            "assessment": a.kind, "assessed_by": a.assessed_by, "encounter_id": a.encounter_id}


def _imaging(s: Session, order: ImagingOrder | None, status: str | None = None) -> dict[str, Any] | None:
    if order is None:
        return None
    study_id = s.scalar(sa.select(ImagingStudy.id).where(ImagingStudy.order_id == order.id))
    report_id = s.scalar(sa.select(DiagnosticReport.id).where(DiagnosticReport.order_id == order.id))
    return {"status": status or IMAGING_STATUS.get(order.status, order.status), "order_id": order.id,
            "study_id": study_id, "report_id": report_id, "assigned_to": order.assigned_to,
            "encounter_id": order.encounter_id}


def _imaging_order(s: Session, row_id: str) -> dict[str, Any] | None:
    return _imaging(s, s.get(ImagingOrder, row_id))


def _imaging_study(s: Session, row_id: str) -> dict[str, Any] | None:
    study = s.get(ImagingStudy, row_id)
    return None if study is None else _imaging(s, s.get(ImagingOrder, study.order_id), "study-received")


def _medication_order(s: Session, row_id: str) -> dict[str, Any] | None:
    o = s.get(MedicationOrder, row_id)
    if o is None:
        return None
    return {"status": o.status, "order_id": o.id, "verified_by": o.verified_by, "encounter_id": o.encounter_id}


def _discharge(s: Session, encounter_id: str) -> dict[str, Any] | None:
    """A stay's discharge, by how far it got: started, summary-written, bed-cleaning, bed-released, completed."""
    enc = s.get(Encounter, encounter_id)
    if enc is None:
        return None
    summary = s.scalar(sa.select(DischargeSummary.id).where(DischargeSummary.encounter_id == encounter_id))
    cleaning = s.scalar(sa.select(BedCleaning).where(BedCleaning.encounter_id == encounter_id)
                        .order_by(BedCleaning.started_at.desc()).limit(1))
    status = "started"
    if summary:
        status = "summary-written"
    if cleaning is not None:
        status = "bed-released" if cleaning.status == "available" else "bed-cleaning"
    if enc.status == "finished":
        status = "completed"
    return {"status": status, "composition_id": summary, "bed_id": cleaning.bed_id if cleaning else None,
            "encounter_id": enc.id}


def _invoice(s: Session, row_id: str) -> dict[str, Any] | None:
    i = s.get(Invoice, row_id)
    if i is None:
        return None
    claim = s.scalar(sa.select(Claim).where(Claim.invoice_id == i.id))
    return {"status": i.status, "invoice_id": i.id, "claim_id": claim.id if claim else None,
            "claim_outcome": claim.outcome if claim else None, "encounter_id": i.encounter_id}


def _claim(s: Session, row_id: str) -> dict[str, Any] | None:
    c = s.get(Claim, row_id)
    if c is None:
        return None
    return {"status": c.outcome, "claim_id": c.id, "claim_status": c.status, "invoice_id": c.invoice_id,
            "encounter_id": c.encounter_id}


_READERS = {"triage": _triage, "imaging-order": _imaging_order, "imaging-study": _imaging_study,
            "medication-order": _medication_order, "discharge": _discharge, "invoice": _invoice, "claim": _claim}

__all__ = ["IMAGING_STATUS", "STAGE_OF_SOURCE", "describe", "source_of"]
