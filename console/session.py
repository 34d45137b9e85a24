"""Who is signed in to the console, and the API client that speaks for them (kept per browser session)."""
from __future__ import annotations

from typing import Any

import streamlit as st

from console.api import USERS, ApiUnavailable, connect

ROLE_LABELS = {"manager": "manager-1 · manager", "compliance_officer": "compliance-1 · compliance officer"}


def sign_in() -> str:
    """The sidebar sign-in: choose a demo user; the console mints their token through the embedded issuer."""
    roles = list(USERS)
    current = st.session_state.get("role", "manager")
    role = st.sidebar.radio("Signed in as", roles, index=roles.index(current), format_func=ROLE_LABELS.get,
                            key="role_choice")
    previous = st.session_state.get("role")
    if role != previous:
        st.session_state["role"] = role
        if previous is not None:  # another user now: their own token, their own client
            st.session_state.pop("api", None)
    st.sidebar.caption("Tokens come from the stack's embedded issuer; the console reads only through the API.")
    return role


def role() -> str:
    return st.session_state.get("role", "manager")


def api() -> Any:
    """The signed-in user's API client (tests put a fake under ``st.session_state['api']``)."""
    if "api" not in st.session_state:
        try:
            st.session_state["api"] = connect(role())
        except OSError as exc:  # no CA or issuer key under HMS_HOME: the stack is not there
            raise ApiUnavailable(f"cannot sign in to the API: {exc}") from exc
    return st.session_state["api"]


def fetch(path: str, **params: Any) -> Any:
    """GET through the API; on failure show why and stop the page (never a stack trace)."""
    try:
        return api().get(path, **params)
    except ApiUnavailable as exc:
        st.error(str(exc))
        st.stop()
