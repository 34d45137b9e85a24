"""The HMS manager console: Streamlit multipage app, reading only through the HMS API.

Run with ``hms console`` (HTTPS, TLS 1.3, the stack's certificate); ``hms up`` starts it.
Managers see de-identified aggregates; the Compliance page is for compliance officers.
"""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from console.session import sign_in

VIEWS = Path(__file__).with_name("views")

st.set_page_config(page_title="HMS console", page_icon=":material/local_hospital:", layout="wide")
role = sign_in()
pages = [st.Page(str(VIEWS / "hospital_now.py"), title="Hospital now", icon=":material/local_hospital:", default=True),
         st.Page(str(VIEWS / "forecast.py"), title="Forecast", icon=":material/trending_up:"),
         st.Page(str(VIEWS / "journeys.py"), title="Journeys", icon=":material/route:"),
         st.Page(str(VIEWS / "pharmacy_imaging.py"), title="Pharmacy and imaging", icon=":material/medication:")]
if role == "compliance_officer":
    pages.append(st.Page(str(VIEWS / "compliance.py"), title="Compliance", icon=":material/shield:"))
st.navigation(pages).run()
