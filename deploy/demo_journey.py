"""One synthetic patient's complete journey through the public API, each step by the role that does it.

Arrival (an ED triage, optionally after a conversational intake, or an elective admission),
admission, a psychiatric note where the API has a notes route, imaging and medication orders
(``deploy.demo_orders``), discharge through the discharge plan and its inbox tasks, and the
billing clerk's settlement of the claim. The journey counts as complete once the journey
workflow has completed and its claim is settled. Failures carry ids and API messages only.
"""
from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from deploy.client import ApiClient, ApiError, or_none
from deploy.client_push import current_patient
from deploy.demo_orders import Visit, run_imaging, run_medication
from deploy.demo_scenarios import Scenario
from deploy.demo_triage import CLERK, arrive, hand_over, ward_attending
from deploy.seed import DEMO_USERS

BILLING = ("billing-1", "billing_clerk")
NOTES_PATH = "/api/v1/patients/{patient_id}/notes"
#: How long a journey typically takes to follow its encounter (the child's completion reaching the
#: journey) on a busy two-core stack: the first read after the encounter's event waits this long.
JOURNEY_FOLLOWS = 0.3
FOLLOW_UP_CLINIC = {"medical": "MED-OPD", "surgical": "SURG-OPD", "psychiatry": "PSY-OPD"}


class JourneyFailed(RuntimeError):
    """The journey ended without completing (the workflow failed, or a step was refused)."""


@dataclass
class Outcome:
    index: int
    journey_id: str | None = None
    encounter_id: str | None = None
    ok: bool = False
    reason: str | None = None
    durations: dict[str, float] = field(default_factory=dict)
    tasks: Counter[str] = field(default_factory=Counter)
    invoice_id: str | None = None
    invoice_total: Decimal | None = None
    currency: str | None = None
    settlement: str | None = None
    overrides: int = 0
    rejections: int = 0
    note: str | None = None

    @property
    def label(self) -> str:
        """How a failure is named: the journey id, or the scenario number before a journey existed."""
        return self.journey_id or f"scenario-{self.index}"


def ward_nurse(ward: str) -> str:
    return next(u.id for u in DEMO_USERS if u.role == "nurse" and ward in u.wards)


class JourneyDriver:
    """Drives one scenario; ``run`` returns its ``Outcome``, with the reason when a step failed or timed out."""

    def __init__(self, api: ApiClient, scenario: Scenario, *, step_timeout: float = 120,
                 notes_route: bool = False) -> None:
        self.api, self.s, self.step_timeout, self.notes_route = api, scenario, step_timeout, notes_route
        self.outcome = Outcome(index=scenario.index)
        self.identifier = f"DEMO-{uuid.uuid4().hex[:16]}"
        self.visit: Visit | None = None

    @contextmanager
    def phase(self, name: str):  # noqa: ANN201
        start = time.perf_counter()
        try:
            yield
        finally:
            self.outcome.durations[name] = self.outcome.durations.get(name, 0.0) + time.perf_counter() - start

    async def run(self) -> Outcome:
        o = self.outcome
        start = time.perf_counter()
        try:
            await self._journey()
            o.ok = True
        except (ApiError, TimeoutError, JourneyFailed, LookupError) as exc:
            o.reason = f"{type(exc).__name__}: {exc}" if isinstance(exc, TimeoutError) else str(exc)
        o.durations["journey"] = time.perf_counter() - start
        return o

    def _patient(self) -> dict[str, Any]:
        s = self.s
        return {"identifier": {"system": "urn:hms:demo", "value": self.identifier}, "given": s.given,
                "family": s.family, "birth_date": s.birth_date, "gender": s.gender}

    async def _journey(self) -> None:
        s, api = self.s, self.api
        triage_id = None
        if s.ed:
            with self.phase("triage"):
                triage_id, _ = await arrive(api, s, self._patient(), self.outcome.tasks, self.step_timeout)
        with self.phase("admission"):
            await self._admit()
        v = self._visit()
        if triage_id:
            with self.phase("triage"):
                await hand_over(api, triage_id, v.journey_id)
        if s.psych_note:
            await self._psych_note()
        if s.imaging:
            with self.phase("imaging"):
                await run_imaging(api, v, s.imaging, self.step_timeout)
        if s.medications:
            with self.phase("pharmacy"):
                for plan in s.medications:
                    await run_medication(api, v, plan, self.step_timeout)
        with self.phase("discharge"):
            await self._discharge()
        await self._finish()

    def _visit(self) -> Visit:
        if self.visit is None:
            raise JourneyFailed("no admission")
        return self.visit

    # --- admission --------------------------------------------------------------------------------

    async def _admit(self) -> None:
        s, api = self.s, self.api
        out = await api.call("POST", "/api/v1/admissions", *CLERK, json={
            "patient": self._patient(), "ward": s.ward, "reason": s.reason, "consent": True})
        self.outcome.journey_id = jid = out["journey_id"]
        self.outcome.encounter_id = out["encounter_id"]
        current_patient.set(out["patient_id"])  # this driver's waits wake on the patient's pushed events
        watcher = ward_attending(s.ward)

        async def admitted() -> dict[str, Any] | None:
            j = await self._maybe_forbidden(jid, watcher)
            if j is not None and j["status"] == "failed":
                raise JourneyFailed(f"admission failed: {j.get('failure')}")
            return j if j is not None and j["stage"] not in ("admission",) else None

        state = await self._journey_when(admitted, "in-progress", f"{jid} was not admitted")
        self.visit = Visit(journey_id=jid, patient_id=out["patient_id"], encounter_id=out["encounter_id"],
                           ward=s.ward, attending=state.get("attending") or watcher, nurse=ward_nurse(s.ward),
                           outcome=self.outcome)

    async def _journey_when(self, probe: Any, encounter_status: str, what: str) -> Any:
        """``probe()`` (a journey read) once the stream pushed the encounter's ``encounter_status``: the
        journey reaches the stage moments after its encounter does."""
        patient = current_patient.get() or ""
        return await self.api.poll_when(probe, self.step_timeout, what, settle=JOURNEY_FOLLOWS,
                                        ready=lambda w: w.encounter_status(patient) == encounter_status)

    async def _maybe_forbidden(self, journey_id: str, attending: str) -> dict[str, Any] | None:
        """The journey as its attending sees it; None while the care team is not assigned yet."""
        return await or_none(self.api.call("GET", f"/api/v1/journeys/{journey_id}", attending,
                                           "attending_physician"), (403, 404))

    async def _psych_note(self) -> None:
        """A PSY-labelled note by the attending; the billing clerk must be refused it."""
        if not self.notes_route:
            self.outcome.note = "skipped"
            return
        v = self._visit()
        note = await self.api.call("POST", NOTES_PATH.format(patient_id=v.patient_id), v.attending,
                                   "attending_physician",
                                   json={"text": "Synthetic psychiatric assessment for the demo.",
                                         "sensitivity": ["PSY"]})
        note_id = note.get("id") if isinstance(note, dict) else None
        read = note_id and await or_none(self.api.call("GET", f"/api/v1/notes/{note_id}", *BILLING),
                                         tuple(range(400, 500)))
        if read:
            raise JourneyFailed("a billing clerk could read a psychiatric note")
        self.outcome.note = "posted"

    # --- discharge and billing --------------------------------------------------------------------

    async def _discharge(self) -> None:
        """The discharge plan, its checklist tasks in the inbox, then the journey's completion."""
        v, api, s = self._visit(), self.api, self.s
        path = f"/api/v1/journeys/{v.journey_id}/discharge-plan"
        await api.call("POST", path, v.attending, "attending_physician", json={})
        refreshed = [time.monotonic()]

        async def med_rec() -> dict[str, Any] | None:
            for t in await api.tasks(v.attending, "attending_physician", patient=v.patient_id):
                if t["type"] == "medication-reconciliation":
                    return t
            if time.monotonic() - refreshed[0] > 2:  # a result may still have been pending: re-check
                refreshed[0] = time.monotonic()
                try:
                    await api.call("POST", path, v.attending, "attending_physician", json={})
                except ApiError as exc:
                    if exc.status != 409:
                        raise
            return None

        def pushed() -> dict[str, Any] | None:
            return None if api.wakeups is None else api.wakeups.pushed_task(
                v.patient_id, "medication-reconciliation", role="attending_physician")

        task = await api.poll(med_rec, self.step_timeout, "no medication-reconciliation task", pushed=pushed,
                          probe_first=False)
        orders = task["details"].get("orders", [])
        await api.complete(task, v.attending, "attending_physician",
                           {"decisions": {o: v.at_discharge.get(o, "stop") for o in orders}})
        follow = await api.wait_task(v.attending, "attending_physician", patient=v.patient_id, task_type="follow-up",
                                     timeout=self.step_timeout)
        when = (date.today() + timedelta(days=7 + self.s.index % 21)).isoformat()
        await api.complete(follow, v.attending, "attending_physician",
                           {"date": when, "clinic": FOLLOW_UP_CLINIC.get(s.ward, "GP")} if s.follow_up
                           else {"required": False})
        self.outcome.tasks["attending_physician"] += 2
        cleaning = await api.wait_task(v.nurse, "nurse", patient=v.patient_id, task_type="bed-cleaning",
                                       timeout=self.step_timeout)
        await api.complete(cleaning, v.nurse, "nurse", {"cleaned": True})
        self.outcome.tasks["nurse"] += 1

    async def _finish(self) -> None:
        """The journey's completion and the claim's settlement, awaited together (whichever order they come in).

        ``discharge`` lasts until the journey completed; ``billing`` from the bed cleaned to the settled claim.
        """
        v, durations = self._visit(), self.outcome.durations
        start = time.perf_counter()

        async def completed() -> dict[str, Any] | None:
            j = await self._maybe_forbidden(v.journey_id, v.attending)
            if j is not None and j["status"] == "failed":
                raise JourneyFailed(f"journey failed: {j.get('failure')}")
            return j if j is not None and j["status"] == "completed" else None

        async def journey() -> None:
            await self._journey_when(completed, "finished", f"{v.journey_id} did not complete")
            durations["discharge"] = durations.get("discharge", 0.0) + time.perf_counter() - start

        async def billing() -> None:
            await self._settle()
            durations["billing"] = time.perf_counter() - start

        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(journey())
                group.create_task(billing())
        except BaseExceptionGroup as failed:
            raise failed.exceptions[0] from None

    async def _settle(self) -> None:
        """The billing clerk settles the claim of the stay's invoice (paid in full, or denied)."""
        v, api, o = self._visit(), self.api, self.outcome
        task = await api.wait_task(*BILLING, patient=v.patient_id, task_type="billing-settlement",
                                   task_role="billing_clerk", timeout=self.step_timeout)
        d = task["details"]
        o.invoice_id = d["invoice_id"]
        invoice = await api.call("GET", f"/api/v1/invoices/{o.invoice_id}", *BILLING)
        total = Decimal(str(invoice.get("total") or d.get("total") or "0"))
        paid = self.s.settlement == "paid" and total > 0
        payload = ({"outcome": "paid", "paid_amount": str(total), "reference": f"REMIT-{v.encounter_id[:8]}"}
                   if paid else {"outcome": "denied", "denial_reason": "not covered by the plan"})
        await api.complete(task, *BILLING, payload)
        o.tasks["billing_clerk"] += 1
        o.invoice_total, o.currency, o.settlement = total, invoice.get("currency") or d.get("currency"), payload[
            "outcome"]
