"""``GET /metrics``: the process's Prometheus metrics, for the ``admin`` role.

The metrics hold no patient data (labels are route templates, results and status classes), but they
do describe the hospital's traffic, so the route is authorized like any other: the policy lets
``admin`` read ``Configuration`` and every scrape is recorded in the ledger. A scraper uses a token
of a service account with the ``admin`` role (``hms token --role admin`` on the embedded issuer).
"""
from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Histogram, generate_latest

from api.access import authorize
from api.deps import CurrentUser, Services

REQUESTS = Counter("hms_api_requests", "API requests by method, route template and status class",
                   ["method", "route", "status_class"])
REQUEST_SECONDS = Histogram("hms_api_request_seconds", "API request latency by method and route template",
                            ["method", "route"],
                            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0))

router = APIRouter(tags=["operations"])


@router.get("/metrics", include_in_schema=False)
async def metrics(services: Services, user: CurrentUser) -> Response:
    """Prometheus text exposition of this API process (request, policy and ledger metrics, process stats)."""
    await authorize(services, user, action="read", subtype="ops.metrics",
                    resource={"type": "Configuration", "id": "metrics", "patient_id": None})
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
