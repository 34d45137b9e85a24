"""Every workflow type a journey worker registers."""
from __future__ import annotations

from workflows.admission import AdmissionWorkflow
from workflows.billing import BillingWorkflow
from workflows.break_glass import BreakGlassReview
from workflows.correction import CorrectionRequest
from workflows.discharge import DischargeWorkflow
from workflows.erasure import ErasureWorkflow
from workflows.imaging import ImagingWorkflow
from workflows.intake import IntakeWorkflow
from workflows.journey import PatientJourney
from workflows.pharmacy import PharmacyWorkflow
from workflows.triage import TriageWorkflow

WORKFLOWS = [PatientJourney, AdmissionWorkflow, ImagingWorkflow, DischargeWorkflow, BillingWorkflow, PharmacyWorkflow,
             TriageWorkflow, IntakeWorkflow, BreakGlassReview, ErasureWorkflow, CorrectionRequest]
