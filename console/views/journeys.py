"""Journeys: search by stage, ward and acuity (no names), with links into the Temporal UI."""
import pandas as pd
import streamlit as st

from console import charts
from console.api import temporal_ui
from console.session import fetch, role

STAGES = ["any", "admission", "admitted", "discharging", "discharged"]
ACUITIES = ["any"] + [f"ESI-{n}" for n in range(1, 6)]
WARDS = ["any", "emergency", "medical", "surgical", "icu", "psychiatry"]

st.title("Journeys")
if role() != "manager":
    st.info("The journey list is for managers; sign in as manager-1.")
    st.stop()
c = st.columns(3)
stage = c[0].selectbox("Stage", STAGES)
ward = c[1].selectbox("Ward", WARDS)
acuity = c[2].selectbox("Acuity", ACUITIES)
found = fetch("/api/v1/ops/journeys", stage=None if stage == "any" else stage, ward=None if ward == "any" else ward,
              acuity=None if acuity == "any" else acuity)
rows = found["journeys"]
st.metric("Journeys found", found["count"])
if not rows:
    st.info("No journey matches these filters.")
    st.stop()
frame = pd.DataFrame(rows)
ui = temporal_ui()
frame["temporal"] = [r.get("temporal_url") or f"{ui}{r['temporal_path']}" for r in rows]
by_ward = frame.groupby(["ward", "stage"]).size().reset_index(name="journeys").to_dict("records")
st.altair_chart(charts.bars(by_ward, "ward", "journeys", "Journeys by ward and stage", color="stage"),
                width="stretch")
st.dataframe(frame[["journey_id", "stage", "ward", "acuity", "hours_since_start", "temporal"]], hide_index=True,
             width="stretch",
             column_config={"temporal": st.column_config.LinkColumn("Temporal UI", display_text="open workflow"),
                            "hours_since_start": st.column_config.NumberColumn("hours", format="%.1f")})
st.caption("Journey ids only: no names, identifiers or patient ids. Engineers see encrypted payloads in Temporal.")
