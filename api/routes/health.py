"""Liveness and readiness, without authentication and without patient data."""
from __future__ import annotations

import sqlalchemy as sa
from fastapi import APIRouter, Response
from starlette.concurrency import run_in_threadpool

from api.deps import Services
from api.services import ApiServices

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz(services: Services, response: Response) -> dict[str, object]:
    """200 when the API can reach its database and the workflow engine; 503 naming what is down."""
    checks = {"database": await run_in_threadpool(_db_ok, services), "temporal": services.temporal is not None}
    ok = all(checks.values())
    if not ok:
        response.status_code = 503
    return {"status": "ok" if ok else "degraded", "checks": checks}


def _db_ok(services: ApiServices) -> bool:
    try:
        with services.sessions() as s:
            s.execute(sa.text("SELECT 1"))
        return True
    except Exception:
        return False
