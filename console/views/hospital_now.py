"""Hospital now: occupancy, the ED queue by acuity, journeys by stage, overdue tasks, surge alerts."""
import streamlit as st

from console import charts
from console.session import fetch, role

st.title("Hospital now")
if role() != "manager":
    st.info("This page shows de-identified aggregates for managers; sign in as manager-1.")
    st.stop()
now = fetch("/api/v1/ops/now")
wards = now["occupancy"]
beds, occupied = sum(w["beds"] for w in wards), sum(w["occupied"] for w in wards)
waiting = sum(q["waiting"] for q in now["ed_queue"])
overdue = sum(t["overdue"] for t in now["overdue_tasks"])
open_alerts = [a for a in now["surge_alerts"] if a["status"] == "open"]
c = st.columns(4)
c[0].metric("Beds occupied", f"{occupied} / {beds}", f"{(100 * occupied / beds) if beds else 0:.0f}% full",
            delta_color="off", delta_arrow="off")
c[1].metric("Waiting in the ED", waiting)
c[2].metric("Tasks overdue", overdue)
c[3].metric("Surge alerts open", len(open_alerts))
for a in open_alerts:
    d = a["details"]
    st.warning(f"Surge alert ({a['ward']}): {d.get('hours_over', 0)} hour(s) over capacity, peak "
               f"{d.get('peak_expected', 0):.1f} arrivals/h at {d.get('peak_hour', '?')} vs capacity "
               f"{d.get('capacity_per_hour', 0):.1f}/h")
left, right = st.columns(2)
left.altair_chart(charts.occupancy(wards), width="stretch")
right.altair_chart(charts.bars(now["ed_queue"], "acuity", "waiting", "ED queue by acuity", charts.ACUITY_COLORS),
                   width="stretch")
left, right = st.columns(2)
left.altair_chart(charts.bars(now["journeys_by_stage"], "stage", "journeys", "Journeys by stage (discharged: last 24 h)"),
                  width="stretch")
if now["overdue_tasks"]:
    right.altair_chart(charts.bars(now["overdue_tasks"], "type", "overdue", "Overdue tasks by type and ward",
                                   color="ward"), width="stretch")
else:
    right.success("No task is overdue.")
st.caption(f"As of {now['at']} · de-identified aggregates from the HMS API")
