"""The console's only data source: the HMS API over HTTPS, verifying the local CA.

The console runs inside the stack, so it signs its demo users in through the embedded
issuer (``deploy.tokens.issue_token``, as ``hms token`` does) and sends the short-lived
token as a bearer; the API then decides per role. Nothing here reads the database.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx

#: The demo users the console signs in as, by role.
USERS = {"manager": "manager-1", "compliance_officer": "compliance-1"}


class ApiUnavailable(RuntimeError):
    """The API refused or could not answer; the message is safe to show."""


@dataclass
class ConsoleApi:
    """A bearer-token HTTPS client for one signed-in demo user."""

    base_url: str
    verify: Any
    user: str
    role: str
    token_factory: Any
    #: An httpx transport (tests pass a mock); None: real HTTPS.
    transport: Any = None
    _token: tuple[float, str] | None = None
    _http: httpx.Client | None = None

    def _bearer(self) -> str:
        if self._token is None or time.monotonic() - self._token[0] > 60:
            self._token = (time.monotonic(), self.token_factory(self.user, self.role))
        return self._token[1]

    def get(self, path: str, **params: Any) -> Any:
        try:
            if self._http is None:  # one keep-alive connection per signed-in session
                self._http = httpx.Client(base_url=self.base_url, verify=self.verify, timeout=60,
                                          transport=self.transport)
            r = self._http.get(path, params={k: v for k, v in params.items() if v is not None},
                               headers={"Authorization": f"Bearer {self._bearer()}"})
        except httpx.HTTPError as exc:
            raise ApiUnavailable(f"the API at {self.base_url} cannot be reached ({type(exc).__name__})") from exc
        if r.status_code != 200:
            try:
                detail = r.json().get("detail")
            except ValueError:
                detail = r.text[:200]
            raise ApiUnavailable(f"GET {path} → {r.status_code}: {detail}")
        return r.json()


def connect(role: str) -> ConsoleApi:
    """A client for the demo user of ``role`` against this stack's API (settings from ``HMS_*``)."""
    from deploy.client import tls_context
    from deploy.settings import Settings
    from deploy.tokens import issue_token, issuer_key

    settings = Settings()
    key = issuer_key(settings)
    return ConsoleApi(base_url=settings.api_base_url, verify=tls_context(settings), user=USERS[role], role=role,
                      token_factory=lambda user, r: issue_token(settings, user, r, ttl=300, key=key))


def temporal_ui() -> str:
    from deploy.settings import Settings

    s = Settings()
    return f"http://{s.host}:{s.temporal_ui_port}"
