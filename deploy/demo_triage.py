"""The demo's ED arrivals: registration (optionally a conversational intake first), then triage at the door.

The registration desk registers the arrival (or relays the intake's answers), the triage nurse
takes the triage task from the inbox and records vitals (confirming the suggested ESI, or
overriding it with a reason after checking the calculator), and a NEWS2 of 7 or more sends the
ED attending a rapid-response task to acknowledge. Once admitted, the desk links the triage to
the stay and the ED attending reports the patient seen, which ends the triage.
"""
from __future__ import annotations

import uuid
from collections import Counter
from datetime import date
from typing import Any

from deploy.client import ApiClient, or_none
from deploy.demo_scenarios import Scenario
from deploy.seed import CARE_TEAMS, DEMO_USERS

CLERK = ("registration-1", "registration_clerk")
TRIAGE_NURSE = ("triage-nurse-1", "triage_nurse")
VITALS = {
    "stable": dict(respiratory_rate=16, spo2=97, on_oxygen=False, systolic_bp=126, heart_rate=82, consciousness="A",
                   temperature=37.0),
    "unwell": dict(respiratory_rate=21, spo2=95, on_oxygen=False, systolic_bp=112, heart_rate=96, consciousness="A",
                   temperature=38.4),
    "critical": dict(respiratory_rate=26, spo2=90, on_oxygen=True, systolic_bp=95, heart_rate=121, consciousness="A",
                     temperature=39.4),
}


def ward_attending(ward: str) -> str:
    """The attending of the care team covering ``ward`` in the demo hospital."""
    attendings = {u.id for u in DEMO_USERS if u.role == "attending_physician"}
    for _, wards, members in CARE_TEAMS.values():
        if ward in wards:
            return next(m for m in members if m in attendings)
    raise LookupError(f"no care team covers ward {ward}")


def intake_answer(question: dict[str, Any]) -> Any:
    """A plausible, non-alarming answer to any intake question (the demo's patients answer calmly)."""
    kind = question.get("kind")
    if kind == "yes_no":
        return question.get("id") in ("full_sentences", "weight_bearing")
    if kind == "choice":
        return question["options"][0]
    if kind == "number":
        low, high = question.get("minimum") or 0, question.get("maximum")
        return min(low + 2, high) if high is not None else low + 2
    return ""


def age_years(birth: str, today: date) -> int:
    b = date.fromisoformat(birth)
    return today.year - b.year - ((today.month, today.day) < (b.month, b.day))


async def arrive(api: ApiClient, s: Scenario, patient: dict[str, Any], tasks: Counter[str],
                 timeout: float) -> tuple[str, str]:
    """Register the arrival and have it triaged; returns (triage id, patient id)."""
    if s.arrival == "ed-intake":
        intake_id = str(uuid.uuid4())
        step = await api.call("POST", "/api/v1/intake", *CLERK,
                              json={"complaint": s.complaint, "patient": patient, "intake_id": intake_id})
        while step["status"] == "in-progress" and step.get("question"):
            q = step["question"]
            step = await api.call("POST", f"/api/v1/intake/{intake_id}/answers", *CLERK,
                                  json={"answer": intake_answer(q), "question_id": q["id"]})
        triage_id = step.get("triage_id") or intake_id
    else:
        triage_id = str(uuid.uuid4())
        await api.call("POST", "/api/v1/triage", *CLERK, json={
            "patient": patient, "triage_id": triage_id, "priority": "urgent" if s.vitals == "critical" else "routine"})
    state = await api.poll(lambda: or_none(api.call("GET", f"/api/v1/triage/{triage_id}", *TRIAGE_NURSE)),
                           timeout, f"triage {triage_id} did not start")
    patient_id = state["patient_id"]
    task = await api.wait_task(*TRIAGE_NURSE, patient=patient_id, task_type="triage", match={"triage_id": triage_id},
                               timeout=timeout)
    vitals = {**VITALS[s.vitals], "complaint": s.complaint or "unwell"}
    payload: dict[str, Any] = {"vitals": vitals}
    if s.esi_override:
        score = await api.call("POST", "/api/v1/triage/score", *TRIAGE_NURSE,
                               json={**vitals, "age": age_years(s.birth_date, date.today())})
        suggested = int(score["esi_suggested"])
        payload.update(esi=suggested + 1 if suggested < 5 else suggested - 1,
                       override_reason="nurse judgement after reassessing at the door")
    done = await api.complete(task, *TRIAGE_NURSE, payload)
    tasks["triage_nurse"] += 1
    if (done.get("result") or {}).get("rapid_response") == "open":
        attending = ward_attending("emergency")
        rapid = await api.wait_task(attending, "attending_physician", patient=patient_id, task_type="rapid-response",
                                    timeout=timeout)
        await api.complete(rapid, attending, "attending_physician", {"eta_minutes": 5})
        tasks["attending_physician"] += 1
    return triage_id, patient_id


async def hand_over(api: ApiClient, triage_id: str, journey_id: str) -> None:
    """Link the triage to the stay, then the ED attending reports the patient seen (the triage ends)."""
    await api.call("POST", f"/api/v1/triage/{triage_id}/admission", *CLERK, json={"journey_id": journey_id})
    await api.call("POST", f"/api/v1/triage/{triage_id}/physician-seen", ward_attending("emergency"),
                   "attending_physician")
