"""The console's launcher and API client without servers: TLS floor, argv, sign-in failures."""
from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from console import service
from console.api import ApiUnavailable, ConsoleApi
from deploy.settings import Settings

VIEWS = Path(__file__).resolve().parents[3] / "console" / "views"


def test_require_tls13_raises_the_floor_of_uvicorn_contexts(tmp_path: Path) -> None:
    import uvicorn.config

    from deploy.tls import ensure_tls

    files = ensure_tls(Settings(home=tmp_path))
    original = uvicorn.config.create_ssl_context
    try:
        service.require_tls13()
        service.require_tls13()  # idempotent: wrapped once
        ctx = uvicorn.config.create_ssl_context(certfile=str(files.server_cert), keyfile=str(files.server_key),
                                                password=None, ssl_version=ssl.PROTOCOL_TLS_SERVER,
                                                cert_reqs=ssl.CERT_NONE, ca_certs=None, ciphers="ECDHE+AESGCM")
        assert ctx.minimum_version == ssl.TLSVersion.TLSv1_3
        assert getattr(uvicorn.config.create_ssl_context, "hms_tls13", False)
    finally:
        uvicorn.config.create_ssl_context = original


def test_streamlit_argv_serves_https_on_the_console_port(tmp_path: Path) -> None:
    argv = service.streamlit_argv(Settings(home=tmp_path, console_port=18555), Path("c.pem"), Path("k.pem"))
    assert argv[:3] == ["streamlit", "run", str(service.APP)]
    opts = dict(zip(argv[3::2], argv[4::2], strict=True))
    assert opts["--server.port"] == "18555" and opts["--server.address"] == "127.0.0.1"
    assert opts["--server.sslCertFile"] == "c.pem" and opts["--server.sslKeyFile"] == "k.pem"


def test_api_errors_carry_status_and_detail() -> None:
    import httpx

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["Authorization"] == "Bearer tok-manager-1"
        return httpx.Response(403, json={"detail": "no rule allows manager to read AuditLog"})

    api = ConsoleApi(base_url="https://api.test", verify=False, user="manager-1", role="manager",
                     token_factory=lambda user, role: f"tok-{user}", transport=httpx.MockTransport(handler))
    with pytest.raises(ApiUnavailable, match="GET /api/v1/ops/compliance/ledger → 403: no rule allows manager"):
        api.get("/api/v1/ops/compliance/ledger")


def test_page_without_a_stack_says_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HMS_HOME", str(tmp_path / "no-stack"))
    at = AppTest.from_file(str(VIEWS / "hospital_now.py"), default_timeout=30)
    at.session_state["role"] = "manager"
    at.run()
    assert not at.exception
    assert "cannot sign in to the API" in at.error[0].value
