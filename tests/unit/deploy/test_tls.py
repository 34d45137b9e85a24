"""The local CA and TLS 1.3-only serving: certificates chain, cover loopback, are reused, and a
real uvicorn server refuses TLS 1.2 while answering TLS 1.3."""
from __future__ import annotations

import ipaddress
import socket
import ssl
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from deploy import tls
from deploy.procs import free_port
from deploy.settings import Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home")


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_ca_and_server_certificate_chain_and_cover_loopback(settings: Settings) -> None:
    files = tls.ensure_tls(settings)
    assert files.ca_cert == settings.ca_cert
    ca, server = _cert(files.ca_cert), _cert(files.server_cert)
    server.verify_directly_issued_by(ca)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    assert ca.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign is True
    sans = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in sans.get_values_for_type(x509.DNSName)
    assert {ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")} <= set(sans.get_values_for_type(x509.IPAddress))
    eku = server.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.SERVER_AUTH in eku
    assert server.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False


def test_keys_are_private(settings: Settings) -> None:
    files = tls.ensure_tls(settings)
    for path in (files.ca_key, files.server_key, files.ca_cert, files.server_cert):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(settings.tls_dir.stat().st_mode) == 0o700


def test_reused_on_later_starts(settings: Settings) -> None:
    first = tls.ensure_tls(settings)
    before = {p: p.read_bytes() for p in (first.ca_cert, first.ca_key, first.server_cert, first.server_key)}
    second = tls.ensure_tls(settings)
    assert {p: p.read_bytes() for p in before} == before
    assert second == first


def test_server_certificate_reissued_when_ca_changes(settings: Settings) -> None:
    files = tls.ensure_tls(settings)
    old_server = files.server_cert.read_bytes()
    files.ca_cert.unlink()
    files.ca_key.unlink()
    tls.ensure_tls(settings)
    assert files.server_cert.read_bytes() != old_server
    _cert(files.server_cert).verify_directly_issued_by(_cert(files.ca_cert))


def test_server_certificate_reissued_near_expiry(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    import datetime as dt

    monkeypatch.setattr(tls, "SERVER_VALIDITY", dt.timedelta(days=10))
    files = tls.ensure_tls(settings)
    short_lived = files.server_cert.read_bytes()
    monkeypatch.setattr(tls, "SERVER_VALIDITY", dt.timedelta(days=365))
    tls.ensure_tls(settings)
    renewed = _cert(files.server_cert)
    assert files.server_cert.read_bytes() != short_lived
    assert renewed.not_valid_after_utc - dt.datetime.now(dt.UTC) > dt.timedelta(days=300)


def test_server_context_floor_is_tls13(settings: Settings) -> None:
    ctx = tls.server_ssl_context(tls.ensure_tls(settings))
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1_3
    assert tls.uvicorn_config_kwargs(tls.tls_files(settings.tls_dir)) == {
        "ssl_certfile": str(settings.tls_dir / "server.pem"), "ssl_keyfile": str(settings.tls_dir / "server-key.pem")}


_APP = """
import sys
from pathlib import Path
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from deploy.tls import run_uvicorn_tls13, tls_files

async def healthz(request):
    return PlainTextResponse("ok")

app = Starlette(routes=[Route("/healthz", healthz)])
run_uvicorn_tls13(app, "127.0.0.1", int(sys.argv[2]), tls_files(Path(sys.argv[1])))
"""


@pytest.fixture
def tls13_server(settings: Settings) -> Iterator[tuple[str, Path]]:
    files = tls.ensure_tls(settings)
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", _APP, str(settings.tls_dir), str(port)])
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert proc.poll() is None, "the uvicorn test server exited"
                assert time.monotonic() < deadline, "the uvicorn test server never listened"
                time.sleep(0.1)
        yield f"https://127.0.0.1:{port}", files.ca_cert
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_uvicorn_answers_tls13_with_the_local_ca(tls13_server: tuple[str, Path]) -> None:
    url, ca = tls13_server
    response = httpx.get(f"{url}/healthz", verify=tls.client_ssl_context(ca))
    assert response.status_code == 200
    assert response.text == "ok"


def test_uvicorn_refuses_a_tls12_only_client(tls13_server: tuple[str, Path]) -> None:
    url, ca = tls13_server
    ctx = ssl.create_default_context(cafile=str(ca))
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    port = int(url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with pytest.raises(ssl.SSLError):
            with ctx.wrap_socket(raw, server_hostname="localhost") as conn:
                conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
                conn.recv(1)


def test_api_health_probe_verifies_against_the_local_ca(tls13_server: tuple[str, Path], tmp_path: Path) -> None:
    from deploy import health

    url, ca = tls13_server
    assert health.https_healthz(url, ca) == f"{url}/healthz 200"
    stranger = tls.ensure_tls(Settings(home=tmp_path / "another-home")).ca_cert
    with pytest.raises(httpx.ConnectError):
        health.https_healthz(url, stranger)
