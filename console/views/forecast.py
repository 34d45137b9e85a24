"""Forecast: ER arrivals for the next 24–72 h against capacity, and nurses per shift from the ratios."""
import streamlit as st

from console import charts
from console.session import fetch, role

st.title("Forecast")
if role() != "manager":
    st.info("Forecasts are for managers; sign in as manager-1.")
    st.stop()
hours = st.select_slider("Horizon (hours)", options=[24, 48, 72], value=72)
fc = fetch("/api/v1/ops/forecast", hours=hours)
series = fc["hours"]
c = st.columns(4)
c[0].metric("Expected arrivals", f"{sum(h['expected'] for h in series):.0f}")
c[1].metric("Upper band (p90)", f"{sum(h['p90'] for h in series):.0f}")
c[2].metric("ED capacity / hour", f"{fc['capacity_per_hour']:.1f}")
c[3].metric("Hours over capacity", len(fc["hours_over_capacity"]))
if fc["hours_over_capacity"]:
    st.warning(f"Expected arrivals exceed the ED's capacity in {len(fc['hours_over_capacity'])} hour(s), "
               f"first at {fc['hours_over_capacity'][0]}.")
st.altair_chart(charts.forecast(series, fc["capacity_per_hour"]), width="stretch")
st.subheader("Staffing per shift")
st.altair_chart(charts.staffing(fc["staffing"]), width="stretch")
st.caption(f"Nurse-to-patient ratios by ward and shift; ED census = arrivals/h × {fc['ed_stay_hours']:g} h stay. "
           f"{fc['label']}.")
