"""Compliance (compliance officers): open break-glass reviews, access anomalies, ledger verification."""
import altair as alt
import pandas as pd
import streamlit as st

from console.session import fetch, role

st.title("Compliance")
if role() != "compliance_officer":
    st.error("The Compliance page is for compliance officers: sign in as compliance-1.")
    st.stop()
hours = st.select_slider("Anomaly window (hours)", options=[1, 6, 24, 72, 168], value=24)
threshold = st.number_input("Flag users reading at least this many distinct patients", 2, 10_000, 20)
reviews = fetch("/api/v1/ops/compliance/break-glass")
anomalies = fetch("/api/v1/ops/compliance/anomalies", hours=hours, threshold=threshold)
ledger = fetch("/api/v1/ops/compliance/ledger")
c = st.columns(4)
c[0].metric("Break-glass reviews pending", reviews["pending"])
c[1].metric("Reviews escalated", reviews["escalated"])
c[2].metric("Users flagged", anomalies["flagged"])
c[3].metric("Ledger entries", ledger["tree_size"])
if ledger["ok"] and ledger["head_signature_valid"]:
    st.success(f"Ledger verified: {ledger['tree_size']} entries, signed head {ledger['head']['root_hash'][:16]}… "
               f"at {ledger['head']['timestamp']}")
else:
    st.error(f"Ledger verification FAILED: {ledger['problem_count']} problem(s): {'; '.join(ledger['problems'][:5])}")
users = anomalies["users"]
if users:
    frame = pd.DataFrame(users)
    bars = alt.Chart(frame).mark_bar().encode(
        x=alt.X("actor:N", sort="-y", title=None), y=alt.Y("distinct_patients:Q", title="distinct patients"),
        color=alt.Color("flagged:N", scale=alt.Scale(domain=[True, False], range=["#c62828", "#90a4ae"])),
        tooltip=["actor", "role", "distinct_patients", "accesses", "denials", "break_glass"])
    rule = alt.Chart(pd.DataFrame({"threshold": [threshold]})).mark_rule(strokeDash=[6, 4]).encode(y="threshold:Q")
    st.altair_chart(alt.layer(bars, rule).properties(title=f"Distinct patients per user, last {hours} h", height=280),
                    width="stretch")
for u in [u for u in users if u["flagged"]]:
    st.warning(f"**{u['actor']}** ({u['role']}): {'; '.join(u['reasons'])}")
if anomalies["truncated"]:
    st.caption(f"Scan stopped after {anomalies['entries_scanned']} entries: narrow the window.")
if reviews["reviews"]:
    frame = pd.DataFrame(reviews["reviews"])
    st.altair_chart(alt.Chart(frame).mark_bar().encode(
        x=alt.X("hours_open:Q", title="hours since the grant"), y=alt.Y("grant_id:N", sort="-x", title=None),
        color="review_status:N", tooltip=["grant_id", "holder", "role", "review_status", "hours_open"]).properties(
        title="Open break-glass reviews", height=max(120, 24 * len(frame))), width="stretch")
else:
    st.info("No break-glass review is open.")
