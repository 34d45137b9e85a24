"""FastAPI dependencies as ``Annotated`` aliases."""
from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from api.auth import AuthError, Principal
from api.services import ApiServices

_bearer = HTTPBearer(auto_error=False)


async def get_services(request: Request) -> ApiServices:
    """The app's services (``async``: a plain function dependency would cost a trip to the thread pool)."""
    return request.app.state.services


async def get_principal(
    services: Annotated[ApiServices, Depends(get_services)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller. Verifying an embedded-issuer token is a signature check done on the event loop; one that
    may fetch an OIDC issuer's keys runs in the thread pool."""
    if credentials is not None and (known := services.verifier.cached(credentials.credentials)) is not None:
        return known
    if services.verifier.may_block:
        return await run_in_threadpool(principal_from, services, credentials)
    return principal_from(services, credentials)


def principal_from(services: ApiServices, credentials: HTTPAuthorizationCredentials | None) -> Principal:
    """The caller of a request with these credentials, or a 401."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(401, "missing bearer token", headers={"WWW-Authenticate": "Bearer"})
    try:
        return services.verifier.verify(credentials.credentials)
    except AuthError as exc:
        raise HTTPException(401, str(exc), headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}) from exc


Services = Annotated[ApiServices, Depends(get_services)]
CurrentUser = Annotated[Principal, Depends(get_principal)]
