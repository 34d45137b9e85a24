"""Radiology reports' free text (impression, conclusion), sealed under the patient's data key.

The findings code, the abnormal flag and the AI pre-screen stay in the clear: the worklist,
the operations views and the discharge checks count and filter on them. The text says what
the radiologist saw in this patient and is readable only with their key (erasure shreds it).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from activities.crypto.fields import FieldCipher, ephemeral_cipher
from activities.storage import sealed
from activities.storage.models_imaging import DiagnosticReport

REPORTS = "diagnostic_reports"
TEXT_COLUMNS = ("impression", "conclusion")


def sealed_report(session: Session, cipher: FieldCipher | None, values: dict[str, Any]) -> dict[str, Any]:
    """The report row's values with its text sealed (``cipher`` None: the ephemeral keys, tests only)."""
    cipher = cipher or ephemeral_cipher()
    key = cipher.data_key(session, values["patient_id"], create=True)
    return {**values, **{c: cipher.encrypt(key, REPORTS, c, values["id"], values[c]) for c in TEXT_COLUMNS}}


@dataclass(frozen=True)
class ReportText:
    impression: str
    conclusion: str


def report_text(session: Session, cipher: FieldCipher, report: DiagnosticReport) -> ReportText:
    """The report's text in the clear; ``DataErased`` once the patient's key was shredded."""
    key = sealed.key_of(session, cipher, report.patient_id)
    return ReportText(impression=cipher.decrypt(key, REPORTS, "impression", report.id, report.impression),
                      conclusion=cipher.decrypt(key, REPORTS, "conclusion", report.id, report.conclusion))
