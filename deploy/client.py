"""A small HTTPS client of the task API for the demo and the benchmarks (verifies the local CA)."""
from __future__ import annotations

import asyncio
import ssl
import uuid
from datetime import date
from typing import Any

import httpx

from deploy.settings import Settings
from deploy.tokens import issue_token, issuer_key

DEMO_WARDS = ("medical", "surgical", "emergency", "icu", "psychiatry")
GIVEN = ("Asha", "Ravi", "Meera", "Arjun", "Lena", "Tomas", "Aiko", "Sofia", "Kwame", "Nadia")
FAMILY = ("Verma", "Iyer", "Okafor", "Novak", "Silva", "Tanaka", "Haddad", "Larsen", "Mensah", "Rossi")


def tls_context(settings: Settings) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(settings.ca_cert))
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    return ctx


class ApiClient:
    """Tokens per demo user, cached for most of their lifetime."""

    def __init__(self, settings: Settings, *, limit: int = 64) -> None:
        self._settings = settings
        self._key = issuer_key(settings)
        self._http = httpx.AsyncClient(base_url=settings.api_base_url, verify=tls_context(settings), timeout=60,
                                       limits=httpx.Limits(max_connections=limit))

    def headers(self, user: str, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {issue_token(self._settings, user, role, key=self._key)}"}

    async def admit(self, n: int, ward: str | None = None) -> dict[str, Any]:
        body = synthetic_admission(n, ward)
        r = await self._http.post("/api/v1/admissions", json=body, headers=self.headers("registration-1",
                                                                                      "registration_clerk"))
        r.raise_for_status()
        return r.json()

    async def journey(self, journey_id: str, user: str, role: str) -> dict[str, Any] | None:
        """The journey, or None while the caller cannot see it yet (care team not assigned)."""
        r = await self._http.get(f"/api/v1/journeys/{journey_id}", headers=self.headers(user, role))
        if r.status_code == 403:
            return None
        r.raise_for_status()
        return r.json()

    async def wait_stage(self, journey_id: str, attending: str, stages: tuple[str, ...], timeout: float = 120) -> dict:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            j = await self.journey(journey_id, attending, "attending_physician")
            if j is not None and (j["stage"] in stages or j["status"] == "failed"):
                return j
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"{journey_id} stayed at {j['stage'] if j else 'an unreadable stage'}")
            await asyncio.sleep(0.25)

    async def discharge(self, journey_id: str, attending: str) -> None:
        r = await self._http.post(f"/api/v1/journeys/{journey_id}/discharge", json={},
                                  headers=self.headers(attending, "attending_physician"))
        r.raise_for_status()

    async def aclose(self) -> None:
        await self._http.aclose()


def synthetic_admission(n: int, ward: str | None = None) -> dict[str, Any]:
    """A made-up patient (never a real person) with a fresh identifier."""
    return {
        "patient": {"identifier": {"system": "urn:hms:demo", "value": f"DEMO-{uuid.uuid4().hex[:12]}"},
                    "given": GIVEN[n % len(GIVEN)], "family": FAMILY[(n // len(GIVEN)) % len(FAMILY)],
                    "birth_date": date(1940 + n % 60, 1 + n % 12, 1 + n % 28).isoformat(),
                    "gender": ("female", "male", "other")[n % 3]},
        "ward": ward or DEMO_WARDS[n % 3],
        "reason": "demo admission",
        "consent": True,
    }
