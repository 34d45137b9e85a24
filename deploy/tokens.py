"""The embedded token issuer: short-lived EdDSA JWTs for the seeded demo users."""
from __future__ import annotations

import time
import uuid

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from deploy.seed import demo_user, patient_id_of
from deploy.settings import Settings
from ledger.keys import load_or_create_signing_key


def issuer_key(settings: Settings) -> Ed25519PrivateKey:
    key, _ = load_or_create_signing_key(settings.keys_dir / "issuer-ed25519.pem")
    return key


def issue_token(settings: Settings, user_id: str, role: str, *, ttl: int | None = None,
                key: Ed25519PrivateKey | None = None, patient_id: str | None = None) -> str:
    """A signed token; ``patient_id`` (for the ``patient`` role) names the record the user is."""
    now = int(time.time())
    claims: dict[str, object] = {
        "iss": settings.token_issuer, "aud": settings.token_audience, "sub": user_id, "role": role,
        "iat": now, "nbf": now, "exp": now + (ttl if ttl is not None else settings.token_ttl_seconds),
        "jti": uuid.uuid4().hex,
    }
    if patient_id is not None:
        claims["patient_id"] = patient_id
    return jwt.encode(claims, key or issuer_key(settings), algorithm="EdDSA")


def issue_token_for(settings: Settings, *, user: str | None = None, role: str | None = None) -> str:
    """A token for a demo user, by id or the first user of a role."""
    if settings.oidc_jwks_url:
        raise SystemExit("hms token: the embedded issuer is disabled because HMS_OIDC_JWKS_URL is set")
    try:
        u = demo_user(user=user, role=role)
    except LookupError as exc:
        raise SystemExit(f"hms token: {exc}") from exc
    return issue_token(settings, u.id, u.role, patient_id=patient_id_of(settings, u))
