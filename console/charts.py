"""Altair pictures of the API's aggregates: the console shows, it does not tabulate."""
from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd

#: Counts are whole numbers: no "0.000000" ticks on an all-zero chart.
COUNT_AXIS = alt.Axis(format="d", tickMinStep=1)
ACUITY_COLORS = ["#b71c1c", "#e65100", "#f9a825", "#2e7d32", "#1565c0"]


def occupancy(wards: list[dict[str, Any]]) -> alt.Chart:
    rows = [{"ward": w["ward"], "state": state, "beds": w[key]} for w in wards
            for state, key in (("occupied", "occupied"), ("free", "free"))]
    return alt.Chart(pd.DataFrame(rows)).mark_bar().encode(
        x=alt.X("beds:Q", stack="zero", title="beds"), y=alt.Y("ward:N", sort=None, title=None),
        color=alt.Color("state:N", scale=alt.Scale(domain=["occupied", "free"], range=["#c62828", "#a5d6a7"])),
        tooltip=["ward", "state", "beds"]).properties(title="Bed occupancy by ward", height=220)


def bars(rows: list[dict[str, Any]], x: str, y: str, title: str, colors: list[str] | None = None,
         color: str | None = None) -> alt.Chart:
    frame = pd.DataFrame(rows if rows else [{x: "none", y: 0}])
    enc: dict[str, Any] = {"x": alt.X(f"{x}:N", sort=None, title=None), "y": alt.Y(f"{y}:Q", title=y.replace("_", " "), axis=COUNT_AXIS),
                           "tooltip": list(frame.columns)}
    if color:
        enc["color"] = alt.Color(f"{color}:N")
    elif colors:
        enc["color"] = alt.Color(f"{x}:N", scale=alt.Scale(range=colors), legend=None)
    return alt.Chart(frame).mark_bar().encode(**enc).properties(title=title, height=220)


def forecast(hours: list[dict[str, Any]], capacity: float) -> Any:
    """Expected arrivals with the p10–p90 surge band, against the ED's hourly capacity."""
    frame = pd.DataFrame(hours)
    frame["hour"] = pd.to_datetime(frame["hour"])
    base = alt.Chart(frame).encode(x=alt.X("hour:T", title="hour (UTC)"))
    band = base.mark_area(opacity=0.3, color="#ef6c00").encode(y=alt.Y("p10:Q", title="arrivals per hour"), y2="p90:Q")
    line = base.mark_line(color="#e65100").encode(y="expected:Q", tooltip=["hour:T", "expected", "p10", "p90"])
    cap = alt.Chart(pd.DataFrame({"capacity": [capacity]})).mark_rule(color="#1565c0", strokeDash=[6, 4]).encode(
        y="capacity:Q")
    return alt.layer(band, line, cap).properties(title="ER arrivals: expected, surge band (p10–p90), capacity",
                                                 height=300)


def staffing(rows: list[dict[str, Any]]) -> alt.Chart:
    frame = pd.DataFrame(rows)
    frame["shift"] = pd.to_datetime(frame["start"]).dt.strftime("%a %Hh ") + frame["shift"]
    return alt.Chart(frame).mark_bar().encode(
        x=alt.X("shift:N", sort=None, title="shift (start, UTC)", axis=alt.Axis(labelAngle=-30)), y=alt.Y("recommended_nurses:Q", title="nurses", axis=COUNT_AXIS),
        color=alt.Color("ward:N"), xOffset="ward:N",
        tooltip=["shift", "ward", "expected_patients", "patients_per_nurse", "recommended_nurses",
                 "recommended_nurses_p90", "rostered_nurses"]).properties(title="Recommended nurses per shift",
                                                                           height=280)


def trend(rows: list[dict[str, Any]], title: str) -> alt.Chart:
    frame = pd.DataFrame(rows if rows else [{"day": pd.Timestamp.utcnow().date().isoformat(), "count": 0}])
    return alt.Chart(frame).mark_line(point=True).encode(
        x=alt.X("day:T", title=None), y=alt.Y("count:Q", title="per day", axis=COUNT_AXIS), tooltip=["day", "count"]).properties(
        title=title, height=200)
