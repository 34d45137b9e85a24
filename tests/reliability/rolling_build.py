"""A later build of ``PatientJourney`` for the rolling-update test: one change behind ``workflow.patched``.

When the discharge checklist ends a stay, this build records the patch marker and notes itself
in the journey's memo. Histories recorded by the previous build replay unchanged up to that
point, so a journey started under the old build and finished under this one is the rolling
update the fault test performs. Workflows must live in a module of their own (not ``__main__``).

It runs outside the workflow sandbox: a subclass of the journey defined in another package
fails there to resolve the journey's payload types (pydantic: ``DischargeResult`` "is not fully
defined"), while the stock journey, loaded from its own module, does not.
"""
from __future__ import annotations

from temporalio import workflow

from workflows.contracts import JourneyInput, JourneyState
from workflows.journey import PatientJourney

ROLLING_PATCH = "reliability-rolling-update"


@workflow.defn(name="PatientJourney", sandboxed=False)
class RollingPatientJourney(PatientJourney):
    # The SDK wants the entry points on the class itself; they are the previous build's.
    @workflow.init
    def __init__(self, inp: JourneyInput) -> None:
        super().__init__(inp)

    @workflow.run
    async def run(self, inp: JourneyInput) -> JourneyState:
        return await super().run(inp)

    async def _end_after_checklist(self) -> JourneyState:
        if workflow.patched(ROLLING_PATCH):
            workflow.upsert_memo({"build": ROLLING_PATCH})
        return await super()._end_after_checklist()
