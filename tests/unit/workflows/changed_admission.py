"""A deliberately incompatible AdmissionWorkflow: consent is recorded before registration.

Deploying this without ``workflow.patched`` would break every running admission; the
replay test proves the committed histories catch it.
"""
from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.admission import AdmissionActivities
    from workflows.contracts import AdmissionInput, AdmissionResult, AuditContext, ConsentInput
    from workflows.options import STORAGE


@workflow.defn(name="AdmissionWorkflow")
class ChangedAdmissionWorkflow:
    @workflow.run
    async def run(self, inp: AdmissionInput) -> AdmissionResult:
        ctx = AuditContext(journey_id=inp.journey_id, requested_by=inp.requested_by)
        await workflow.execute_activity_method(
            AdmissionActivities.record_consent,
            ConsentInput(audit=ctx, consent_id=f"consent-{inp.encounter_id}-treat", patient_id=inp.patient_id,
                         purpose="TREAT", granted=inp.consent), **STORAGE)
        raise AssertionError("unreachable in replay")
