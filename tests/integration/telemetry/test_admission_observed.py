"""An admission through the real API and worker is one trace, is counted, and leaves no patient data behind."""
from __future__ import annotations

import asyncio
import io
import json
import logging
import uuid
from collections.abc import Callable, Iterator

import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client.parser import text_string_to_metric_families

from deploy.telemetry.logs import JsonFormatter

pytestmark = pytest.mark.integration
Auth = Callable[[str, str], dict[str, str]]
CLERK = ("registration-1", "registration_clerk")
ATTENDING = ("attending-1", "attending_physician")


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """The process's log lines, as ``HMS_LOG_FORMAT=json`` writes them, at INFO as the services run.

    The API's access line (``hms.api.access``, DEBUG: method, route template, status) is let through as
    well: it is logged inside the request's span, so it shows log lines and traces joined by ``trace_id``.
    """
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("hms-test"))
    root, access = logging.getLogger(), logging.getLogger("hms.api.access")
    levels = root.level, access.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    access.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(levels[0])
        access.setLevel(levels[1])


def patient(identifier: str) -> dict:
    return {"identifier": identifier, "given": "Saraswati", "family": "Venkataraman",
            "birth_date": "1961-07-19", "gender": "female"}


async def metrics(api: httpx.AsyncClient, auth: Auth) -> dict[tuple[str, tuple], float]:
    r = await api.get("/metrics", headers=auth("admin-1", "admin"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(r.text) for s in family.samples}


def total(samples: dict[tuple[str, tuple], float], name: str, **labels: str) -> float:
    return sum(v for (n, ls), v in samples.items() if n == name and set(labels.items()) <= set(ls))


async def until_admitted(api: httpx.AsyncClient, auth: Auth, journey_id: str) -> None:
    for _ in range(300):
        r = await api.get(f"/api/v1/journeys/{journey_id}", headers=auth(*ATTENDING))
        if r.status_code == 200 and r.json()["stage"] == "admitted":
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"not admitted: {r.status_code} {r.text}")


async def test_admission_is_one_trace_counted_and_free_of_patient_data(
        traced_api: httpx.AsyncClient, auth: Auth, spans: InMemorySpanExporter, json_log: io.StringIO) -> None:
    before = await metrics(traced_api, auth)
    spans.clear()
    mrn = f"MRN-{uuid.uuid4().hex[:10]}"
    parent = f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01"
    r = await traced_api.post("/api/v1/admissions", headers={**auth(*CLERK), "traceparent": parent},
                              json={"patient": patient(mrn), "ward": "medical", "reason": "syncope, for review",
                                    "consent": True})
    assert r.status_code == 202, r.text
    out = r.json()
    await until_admitted(traced_api, auth, out["journey_id"])
    plan = await traced_api.post(f"/api/v1/journeys/{out['journey_id']}/discharge-plan",
                                 json={"medication_orders": ["rx-home-1"]}, headers=auth(*ATTENDING))
    assert plan.status_code == 202, plan.text

    finished = spans.get_finished_spans()
    trace_id = int(parent.split("-")[1], 16)
    admission = [s for s in finished if s.context.trace_id == trace_id]
    names = {s.name for s in admission}
    # API request span → client StartWorkflow span → worker RunWorkflow span → RunActivity spans, one trace.
    assert "POST /api/v1/admissions" in names
    assert "StartWorkflow:PatientJourney" in names
    assert "RunWorkflow:PatientJourney" in names
    assert any(n.startswith("RunActivity:") for n in names), names
    request = next(s for s in admission if s.name == "POST /api/v1/admissions")
    start = next(s for s in admission if s.name == "StartWorkflow:PatientJourney")
    assert start.parent is not None and start.parent.span_id == request.context.span_id
    assert [s for s in admission if s.name.startswith("POST")] == [request]  # FastAPI's own span is off

    # Work done by update: request span → StartWorkflowUpdate in the request's trace; the worker's
    # HandleUpdate span belongs to the journey's trace (the workflow's own) and links back to the caller.
    discharge = next(s for s in finished if s.name == "POST /api/v1/journeys/{journey_id}/discharge-plan")
    update = next(s for s in finished if s.name == "StartWorkflowUpdate:start_discharge")
    assert update.context.trace_id == discharge.context.trace_id
    assert update.parent is not None and update.parent.span_id == discharge.context.span_id
    handled = [s for s in finished if s.name == "HandleUpdate:start_discharge"]
    assert handled and handled[0].context.trace_id == trace_id
    assert [link.context.span_id for link in handled[0].links] == [update.context.span_id]

    # No span says who the patient is, nor which record (workflow ids are cut to their kind).
    secrets = ("Saraswati", "Venkataraman", mrn, "1961-07-19", out["patient_id"], out["encounter_id"])
    for span in finished:
        text = span.to_json()
        assert not [s for s in secrets if s in text], (span.name, dict(span.attributes or {}))
    assert any(s.attributes.get("temporalWorkflowID") == "journey-*" for s in admission)

    # The policy decisions and ledger appends of the admission moved the counters /metrics serves.
    after = await metrics(traced_api, auth)
    assert total(after, "hms_policy_decisions_total", result="allow") > total(before, "hms_policy_decisions_total",
                                                                               result="allow")
    assert total(after, "hms_ledger_appended_events_total") > total(before, "hms_ledger_appended_events_total")
    assert total(after, "hms_ledger_append_seconds_count") > total(before, "hms_ledger_append_seconds_count")
    route = {"method": "POST", "route": "/api/v1/admissions", "status_class": "2xx"}
    assert total(after, "hms_api_requests_total", **route) == total(before, "hms_api_requests_total", **route) + 1
    assert not [k for k in after if any(s in str(k) for s in secrets)]

    # The log lines of the API and the worker meanwhile: JSON, and none carries the patient's data.
    lines = [json.loads(line) for line in json_log.getvalue().splitlines()]
    assert all({"ts", "level", "logger", "message"} <= line.keys() for line in lines)
    assert not [line for line in lines if any(s in json.dumps(line) for s in secrets[:4])]
    in_trace = [line for line in lines if line.get("trace_id") == format(trace_id, "032x")]
    assert [line["message"].rsplit(" ", 2)[0] for line in in_trace if line["logger"] == "hms.api.access"] == [
        "POST /api/v1/admissions 202"], lines
    assert all(len(line["span_id"]) == 16 for line in in_trace)


async def test_metrics_are_for_the_admin_role_only(traced_api: httpx.AsyncClient, auth: Auth) -> None:
    assert (await traced_api.get("/metrics")).status_code == 401
    for user, role in (CLERK, ATTENDING, ("manager-1", "manager"), ("compliance-1", "compliance_officer")):
        denied = await traced_api.get("/metrics", headers=auth(user, role))
        assert denied.status_code == 403, (role, denied.text)
    assert (await traced_api.get("/healthz")).status_code == 200  # still answers without auth
    assert "hms_api_requests_total" in (await traced_api.get("/metrics", headers=auth("admin-1", "admin"))).text
