"""Every workflow type a journey worker registers, and the sandbox they run in."""
from __future__ import annotations

from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from workflows.admission import AdmissionWorkflow
from workflows.billing import BillingWorkflow
from workflows.break_glass import BreakGlassReview
from workflows.correction import CorrectionRequest
from workflows.discharge import DischargeWorkflow
from workflows.erasure import ErasureWorkflow
from workflows.hl7_ingest import Hl7IngestWorkflow
from workflows.hl7_intake import Hl7IntakeWorkflow
from workflows.hl7_outbox import Hl7OutboxWorkflow
from workflows.imaging import ImagingWorkflow
from workflows.intake import IntakeWorkflow
from workflows.journey import PatientJourney
from workflows.pharmacy import PharmacyWorkflow
from workflows.result_review import ResultReviewWorkflow
from workflows.surge import SurgeWatch
from workflows.triage import TriageWorkflow

WORKFLOWS = [PatientJourney, AdmissionWorkflow, ImagingWorkflow, DischargeWorkflow, BillingWorkflow, PharmacyWorkflow,
             TriageWorkflow, IntakeWorkflow, BreakGlassReview, ErasureWorkflow, CorrectionRequest, Hl7IngestWorkflow,
             Hl7IntakeWorkflow, SurgeWatch, ResultReviewWorkflow, Hl7OutboxWorkflow]

#: Modules of plain data and constants that workflows share instead of re-importing them for each
#: run: the sandbox re-executes every non-passthrough module per workflow instance, and these
#: (dataclass-heavy contracts above all) were most of a journey worker's cost of starting a stage.
#: They hold no mutable state and perform no I/O, so sharing them cannot leak one run into another.
PASSTHROUGH_MODULES = (
    "workflows.contracts", "workflows.stages", "workflows.search_attributes", "workflows.options",
    "workflows.billing_contracts", "workflows.break_glass_contracts", "workflows.correction_contracts",
    "workflows.discharge_contracts", "workflows.erasure_contracts", "workflows.hl7_contracts",
    "workflows.imaging_contracts", "workflows.pharmacy_contracts", "workflows.surge_contracts",
    "workflows.triage_contracts",
)


def workflow_runner() -> SandboxedWorkflowRunner:
    """The default sandbox with the shared contract modules passed through."""
    return SandboxedWorkflowRunner(restrictions=SandboxRestrictions.default.with_passthrough_modules(
        *PASSTHROUGH_MODULES))
