"""Every workflow type a journey worker registers."""
from __future__ import annotations

from workflows.admission import AdmissionWorkflow
from workflows.billing import BillingWorkflow
from workflows.break_glass import BreakGlassReview
from workflows.correction import CorrectionRequest
from workflows.discharge import DischargeWorkflow
from workflows.erasure import ErasureWorkflow
from workflows.hl7_ingest import Hl7IngestWorkflow
from workflows.hl7_intake import Hl7IntakeWorkflow
from workflows.imaging import ImagingWorkflow
from workflows.intake import IntakeWorkflow
from workflows.journey import PatientJourney
from workflows.pharmacy import PharmacyWorkflow
from workflows.result_review import ResultReviewWorkflow
from workflows.surge import SurgeWatch
from workflows.triage import TriageWorkflow

WORKFLOWS = [PatientJourney, AdmissionWorkflow, ImagingWorkflow, DischargeWorkflow, BillingWorkflow, PharmacyWorkflow,
             TriageWorkflow, IntakeWorkflow, BreakGlassReview, ErasureWorkflow, CorrectionRequest, Hl7IngestWorkflow,
             Hl7IntakeWorkflow, SurgeWatch, ResultReviewWorkflow]
