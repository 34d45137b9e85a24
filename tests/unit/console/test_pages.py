"""Each console page rendered by Streamlit's AppTest against a fake API (no servers)."""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.unit.console.fake_api import FakeApi

VIEWS = Path(__file__).resolve().parents[3] / "console" / "views"
APP = VIEWS.parent / "app.py"


def run(view: str, role: str = "manager", api: FakeApi | None = None) -> tuple[AppTest, FakeApi]:
    api = api or FakeApi()
    at = AppTest.from_file(str(VIEWS / view), default_timeout=30)
    at.session_state["role"] = role
    at.session_state["api"] = api
    return at.run(), api


def charts(at: AppTest) -> list:
    return at.get("vega_lite_chart")


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_hospital_now() -> None:
    at, api = run("hospital_now.py")
    assert not at.exception
    assert at.title[0].value == "Hospital now"
    assert metrics(at) == {"Beds occupied": "12 / 22", "Waiting in the ED": "15", "Tasks overdue": "3",
                           "Surge alerts open": "1"}
    assert len(charts(at)) == 4
    assert "Surge alert (emergency)" in at.warning[0].value
    assert [c[0] for c in api.calls] == ["/api/v1/ops/now"]


def test_forecast() -> None:
    at, api = run("forecast.py")
    assert not at.exception
    m = metrics(at)
    assert m["ED capacity / hour"] == "2.5" and int(m["Hours over capacity"]) > 0
    assert len(charts(at)) == 2 and "exceed the ED's capacity" in at.warning[0].value
    assert api.calls == [("/api/v1/ops/forecast", {"hours": 72})]
    at.select_slider[0].set_value(24).run()
    assert api.calls[-1] == ("/api/v1/ops/forecast", {"hours": 24})


def test_journeys_filters_and_temporal_links() -> None:
    at, api = run("journeys.py")
    assert not at.exception
    assert metrics(at)["Journeys found"] == "2"
    frame = at.dataframe[0].value
    assert list(frame["journey_id"]) == ["journey-aaa", "journey-bbb"]
    assert frame["temporal"][0].endswith("/namespaces/default/workflows/journey-aaa")
    assert frame["temporal"][0].startswith("http://127.0.0.1:")
    assert not {"patient_id", "name", "given", "family"} & set(frame.columns)
    at.selectbox[0].set_value("admitted").run()
    at.selectbox[2].set_value("ESI-3").run()
    assert api.calls[-1] == ("/api/v1/ops/journeys", {"stage": "admitted", "ward": None, "acuity": "ESI-3"})


def test_pharmacy_and_imaging() -> None:
    at, api = run("pharmacy_imaging.py")
    assert not at.exception
    m = metrics(at)
    assert m["Doses due"] == "6" and m["Reports awaiting"] == "3" and m["Orders awaiting verification"] == "2"
    assert len(charts(at)) == 4
    assert {c[0] for c in api.calls} == {"/api/v1/ops/pharmacy", "/api/v1/ops/imaging"}


def test_compliance_for_compliance_officer() -> None:
    at, api = run("compliance.py", role="compliance_officer")
    assert not at.exception
    m = metrics(at)
    assert m["Break-glass reviews pending"] == "1" and m["Users flagged"] == "1" and m["Ledger entries"] == "140"
    assert "Ledger verified" in at.success[0].value
    assert "snoop-1" in at.warning[0].value
    assert len(charts(at)) == 2


def test_compliance_page_refuses_a_manager() -> None:
    at, api = run("compliance.py", role="manager")
    assert not at.exception and "compliance officers" in at.error[0].value
    assert api.calls == []


@pytest.mark.parametrize("view", ["hospital_now.py", "forecast.py", "journeys.py", "pharmacy_imaging.py"])
def test_manager_pages_show_api_refusals(view: str) -> None:
    at, _ = run(view, api=FakeApi(fail="GET /api/v1/ops/now → 403: no rule allows"))
    assert not at.exception and "403" in at.error[0].value


def test_ledger_failure_is_shown() -> None:
    from tests.unit.console.fake_api import ANSWERS

    answers = dict(ANSWERS)
    answers["/api/v1/ops/compliance/ledger"] = {**ANSWERS["/api/v1/ops/compliance/ledger"], "ok": False,
                                                "problem_count": 1, "problems": ["leaf 3 hash mismatch"]}
    at, _ = run("compliance.py", role="compliance_officer", api=FakeApi(answers=answers))
    assert "FAILED" in at.error[0].value and "leaf 3" in at.error[0].value


def test_app_navigation_by_role() -> None:
    at = AppTest.from_file(str(APP), default_timeout=30)
    at.session_state["api"] = FakeApi()
    at.run()
    assert not at.exception and at.title[0].value == "Hospital now"
    assert at.sidebar.radio[0].value == "manager"
    at.sidebar.radio[0].set_value("compliance_officer").run()
    assert at.session_state["role"] == "compliance_officer"
    at.session_state["api"] = FakeApi()  # the role change dropped the client; the fake stands in again
    at.switch_page(str(VIEWS / "compliance.py")).run()
    assert not at.exception and at.title[0].value == "Compliance"


def test_pharmacy_and_imaging_empty_hospital() -> None:
    from tests.unit.console.fake_api import ANSWERS

    answers = dict(ANSWERS)
    answers["/api/v1/ops/pharmacy"] = {"orders_by_status": [], "verification": {"open": 0, "overdue": 0},
                                       "doses": {"open": 0, "overdue": 0}, "orders_per_day": []}
    answers["/api/v1/ops/imaging"] = {"orders_by_status": [], "reports": {"open": 0, "overdue": 0},
                                      "orders_per_day": [], "reports_per_day": []}
    at, _ = run("pharmacy_imaging.py", api=FakeApi(answers=answers))
    assert not at.exception and not charts(at)
    assert [i.value for i in at.info][:1] == ["No medication order yet."]
    assert not any(m.delta for m in at.metric)
