"""Shared inputs for the triage integration tests and the history recorder."""
from __future__ import annotations

import uuid
from datetime import date

from workflows.contracts import PatientDemographics, TaskCompletion
from workflows.triage_contracts import TriageWorkflowInput

STABLE = {"age": 40, "complaint": "twisted ankle", "respiratory_rate": 16, "spo2": 98, "on_oxygen": False,
          "systolic_bp": 124, "heart_rate": 76, "consciousness": "A", "temperature": 36.8}
#: NEWS2 ≥ 7: RR 30 (3), SpO2 89 (3), HR 125 (2), SBP 95 (2) → 10.
DETERIORATING = {"age": 67, "complaint": "breathless and confused", "respiratory_rate": 30, "spo2": 89,
                 "on_oxygen": False, "systolic_bp": 95, "heart_rate": 125, "consciousness": "A",
                 "temperature": 38.4}


def arrival(*, ack_seconds: int = 300) -> TriageWorkflowInput:
    """A standalone ED arrival of a new patient (registered by the workflow)."""
    triage_id = str(uuid.uuid4())
    return TriageWorkflowInput(
        triage_id=triage_id, patient_id=str(uuid.uuid4()), requested_by="registration-1",
        patient=PatientDemographics(identifier_system="urn:hms:mrn", identifier_value=f"ED-{triage_id[:12]}",
                                    given="Ravi", family="Kumar", birth_date=date(1985, 3, 2), gender="male"),
        age=40, attending="attending-1", care_team_id="team-a", rapid_response_ack_seconds=ack_seconds)


def triage_done(triage_id: str, vitals: dict, esi: int | None = None, reason: str | None = None,
                task_id: str | None = None) -> TaskCompletion:
    payload: dict = {"vitals": vitals}
    if esi is not None:
        payload["esi"] = esi
    if reason is not None:
        payload["override_reason"] = reason
    return TaskCompletion(task_id=task_id or f"triage-{triage_id}", actor="triage-nurse-1", role="triage_nurse",
                          payload=payload)
