"""Every workflow type a journey worker registers."""
from __future__ import annotations

from workflows.admission import AdmissionWorkflow
from workflows.journey import PatientJourney

WORKFLOWS = [PatientJourney, AdmissionWorkflow]
