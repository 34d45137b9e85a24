"""FastAPI dependencies as ``Annotated`` aliases."""
from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.auth import AuthError, Principal
from api.services import ApiServices

_bearer = HTTPBearer(auto_error=False)


def get_services(request: Request) -> ApiServices:
    return request.app.state.services


def get_principal(
    services: Annotated[ApiServices, Depends(get_services)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(401, "missing bearer token", headers={"WWW-Authenticate": "Bearer"})
    try:
        return services.verifier.verify(credentials.credentials)
    except AuthError as exc:
        raise HTTPException(401, str(exc), headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}) from exc


Services = Annotated[ApiServices, Depends(get_services)]
CurrentUser = Annotated[Principal, Depends(get_principal)]
