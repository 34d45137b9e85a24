"""Pharmacy and imaging: worklists, overdue doses and reports, as counts and trends."""
from typing import Any

import streamlit as st

from console import charts
from console.session import fetch, role

st.title("Pharmacy and imaging")
if role() != "manager":
    st.info("Worklist aggregates are for managers; sign in as manager-1.")
    st.stop()
rx = fetch("/api/v1/ops/pharmacy")
img = fetch("/api/v1/ops/imaging")


def worklist(column: st.delta_generator.DeltaGenerator, label: str, counts: dict) -> None:
    """Open items, with the overdue ones as a red delta (none shown when nothing is late)."""
    column.metric(label, counts["open"], f"{counts['overdue']} overdue" if counts["overdue"] else None,
                  delta_color="inverse", delta_arrow="off")


def picture(column: st.delta_generator.DeltaGenerator, rows: list, chart: Any, empty: str) -> None:
    if rows:
        column.altair_chart(chart, width="stretch")
    else:
        column.info(empty)


c = st.columns(4)
worklist(c[0], "Orders awaiting verification", rx["verification"])
worklist(c[1], "Doses due", rx["doses"])
worklist(c[2], "Reports awaiting", img["reports"])
c[3].metric("Imaging orders", sum(o["orders"] for o in img["orders_by_status"]))
st.subheader("Pharmacy")
left, right = st.columns(2)
picture(left, rx["orders_by_status"], charts.bars(rx["orders_by_status"], "status", "orders",
                                                  "Medication orders by status"), "No medication order yet.")
picture(right, rx["orders_per_day"], charts.trend(rx["orders_per_day"], "Medication orders per day"),
        "No medication order in the last 14 days.")
st.subheader("Imaging")
left, right = st.columns(2)
picture(left, img["orders_by_status"], charts.bars(img["orders_by_status"], "status", "orders",
                                                   "Imaging orders by status and modality", color="modality"),
        "No imaging order yet.")
picture(right, img["reports_per_day"], charts.trend(img["reports_per_day"], "Reports issued per day"),
        "No report issued in the last 14 days.")
