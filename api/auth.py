"""Bearer-token authentication: the embedded issuer's Ed25519 key, or any OIDC issuer's JWKS."""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

#: Algorithms accepted per key type; never "none", never HS* with a public key.
EMBEDDED_ALGORITHMS = ["EdDSA"]
OIDC_ALGORITHMS = ["RS256", "ES256", "EdDSA"]
#: Verified tokens remembered (each until its own expiry): a client sends the same token on every request.
VERIFIED_CACHE_SIZE = 4096


class AuthError(Exception):
    """The request carries no usable identity; always answered with 401."""


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's subject and role (attributes come from the user directory)."""

    user_id: str
    role: str
    token_id: str | None = None
    patient_id: str | None = None


class TokenVerifier:
    """Verifies signature, expiry, issuer and audience; gives back the principal."""

    def __init__(self, *, issuer: str, audience: str, public_key: Ed25519PublicKey | None = None,
                 jwks_url: str | None = None) -> None:
        if (public_key is None) == (jwks_url is None):
            raise ValueError("exactly one of public_key (embedded issuer) or jwks_url (OIDC) is needed")
        self._issuer, self._audience = issuer, audience
        self._public_key = public_key
        self._jwks = jwt.PyJWKClient(jwks_url, cache_keys=True) if jwks_url else None
        self._verified: OrderedDict[str, tuple[Principal, float]] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def may_block(self) -> bool:
        """Whether ``verify`` may do network I/O (fetching an OIDC issuer's keys): then keep it off the event loop."""
        return self._jwks is not None

    def cached(self, token: str) -> Principal | None:
        """The principal of a token already verified here and not yet expired; None otherwise.

        The exact token string was checked (signature, issuer, audience) before it was remembered, and
        it is forgotten at its ``exp`` (without the leeway ``verify`` allows), so the cache never accepts
        what ``verify`` would refuse.
        """
        with self._lock:
            found = self._verified.get(token)
            if found is None:
                return None
            principal, expires = found
            if time.time() >= expires:
                del self._verified[token]
                return None
            self._verified.move_to_end(token)
            return principal

    def verify(self, token: str) -> Principal:
        principal = self.cached(token)
        if principal is not None:
            return principal
        principal, expires = self._verify(token)
        with self._lock:
            self._verified[token] = (principal, expires)
            while len(self._verified) > VERIFIED_CACHE_SIZE:
                self._verified.popitem(last=False)
        return principal

    def _verify(self, token: str) -> tuple[Principal, float]:
        try:
            if self._jwks is not None:
                key: Any = self._jwks.get_signing_key_from_jwt(token).key
                algorithms = OIDC_ALGORITHMS
            else:
                key, algorithms = self._public_key, EMBEDDED_ALGORITHMS
            claims = jwt.decode(token, key, algorithms=algorithms, audience=self._audience, issuer=self._issuer,
                                options={"require": ["exp", "iat", "sub", "iss", "aud"]}, leeway=5)
        except jwt.ExpiredSignatureError as exc:
            raise AuthError("token expired") from exc
        except (jwt.InvalidTokenError, jwt.PyJWKClientError) as exc:
            raise AuthError(f"invalid token: {exc}") from exc
        role = claims.get("role")
        if not isinstance(role, str) or not role:
            raise AuthError("invalid token: no role claim")
        return Principal(user_id=str(claims["sub"]), role=role, token_id=claims.get("jti"),
                         patient_id=claims.get("patient_id")), float(claims["exp"])
