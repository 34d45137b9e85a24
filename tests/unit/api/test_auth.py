"""Token verification: embedded EdDSA issuer and an OIDC issuer's JWKS (served locally)."""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from api.auth import AuthError, TokenVerifier

ISS, AUD = "https://issuer.test", "hms-api"


def token(key, alg: str = "EdDSA", **overrides) -> str:  # noqa: ANN001
    now = int(time.time())
    claims = {"iss": ISS, "aud": AUD, "sub": "attending-1", "role": "attending_physician", "iat": now,
              "exp": now + 300, "jti": "j1"} | overrides
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode(claims, key, algorithm=alg, headers={"kid": "k1"})


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def test_valid_token_gives_principal(key: Ed25519PrivateKey) -> None:
    p = TokenVerifier(issuer=ISS, audience=AUD, public_key=key.public_key()).verify(token(key))
    assert (p.user_id, p.role, p.token_id) == ("attending-1", "attending_physician", "j1")


@pytest.mark.parametrize(("overrides", "message"), [
    ({"exp": int(time.time()) - 60}, "expired"),
    ({"iss": "https://elsewhere"}, "(?i)issuer"),
    ({"aud": "other-api"}, "(?i)audience"),
    ({"role": None}, "role"),
    ({"sub": None}, "sub"),
])
def test_bad_claims_refused(key: Ed25519PrivateKey, overrides: dict, message: str) -> None:
    with pytest.raises(AuthError, match=message):
        TokenVerifier(issuer=ISS, audience=AUD, public_key=key.public_key()).verify(token(key, **overrides))


def test_other_key_and_unsigned_tokens_refused(key: Ed25519PrivateKey) -> None:
    verifier = TokenVerifier(issuer=ISS, audience=AUD, public_key=key.public_key())
    with pytest.raises(AuthError):
        verifier.verify(token(Ed25519PrivateKey.generate()))
    unsigned = jwt.encode({"iss": ISS, "aud": AUD, "sub": "x", "role": "admin", "iat": 1, "exp": 2**31},
                          None, algorithm="none")
    with pytest.raises(AuthError):
        verifier.verify(unsigned)
    with pytest.raises(AuthError):
        verifier.verify("not.a.token")


@pytest.fixture
def jwks_server() -> Iterator[tuple[str, rsa.RSAPrivateKey]]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
    body = json.dumps({"keys": [jwk | {"kid": "k1", "use": "sig", "alg": "RS256"}]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/jwks", private
    server.shutdown()


def test_oidc_issuer_via_jwks(jwks_server: tuple[str, rsa.RSAPrivateKey]) -> None:
    url, private = jwks_server
    verifier = TokenVerifier(issuer=ISS, audience=AUD, jwks_url=url)
    assert verifier.verify(token(private, alg="RS256")).role == "attending_physician"
    with pytest.raises(AuthError):
        verifier.verify(token(rsa.generate_private_key(public_exponent=65537, key_size=2048), alg="RS256"))


def test_exactly_one_key_source() -> None:
    with pytest.raises(ValueError):
        TokenVerifier(issuer=ISS, audience=AUD)


def test_verified_token_is_remembered_only_until_its_expiry(key: Ed25519PrivateKey,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    verifier = TokenVerifier(issuer=ISS, audience=AUD, public_key=key.public_key())
    now = int(time.time())
    tok = token(key, exp=now + 60)
    assert verifier.cached(tok) is None  # never verified: not known
    principal = verifier.verify(tok)
    assert verifier.cached(tok) == principal
    assert verifier.cached(token(Ed25519PrivateKey.generate(), exp=now + 60)) is None  # another token: unknown
    # At its expiry the remembered token is forgotten; verify() refuses it once past the leeway.
    monkeypatch.setattr("api.auth.time.time", lambda: now + 60)
    assert verifier.cached(tok) is None
    checked: list[str] = []

    def full_check(t: str):  # noqa: ANN202 - stands in for the signature and expiry check
        checked.append(t)
        raise AuthError("token expired")

    monkeypatch.setattr(verifier, "_verify", full_check)
    with pytest.raises(AuthError, match="expired"):
        verifier.verify(tok)
    assert checked == [tok]  # the full check ran again: nothing was answered from memory


def test_a_refused_token_is_not_remembered(key: Ed25519PrivateKey) -> None:
    verifier = TokenVerifier(issuer=ISS, audience=AUD, public_key=key.public_key())
    bad = token(Ed25519PrivateKey.generate())
    with pytest.raises(AuthError):
        verifier.verify(bad)
    assert verifier.cached(bad) is None
    assert not verifier.may_block
