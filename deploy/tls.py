"""The local certificate authority and the TLS 1.3-only server contexts of the embedded stack.

A fresh machine has no certificates, yet the API, the console and MLLP-over-TLS must refuse
anything older than TLS 1.3 from the first start. So ``hms up`` creates a small CA under
``$HMS_HOME/tls`` once, signs a loopback server certificate with it, and clients trust
``ca.pem`` instead of disabling verification. Certificates are reused across restarts and
re-issued only when they near expiry or the CA changed.
"""
from __future__ import annotations

import datetime as dt
import fcntl
import ipaddress
import os
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from deploy.supervisor_files import ensure_home_dir, ensure_private_dir, open_lock, write_private

CA_VALIDITY = dt.timedelta(days=3650)
SERVER_VALIDITY = dt.timedelta(days=365)
RENEW_BEFORE = dt.timedelta(days=30)
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


@dataclass(frozen=True)
class TlsFiles:
    """Where the PEM files of the local CA and the server certificate live."""

    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path


def tls_files(tls_dir: Path) -> TlsFiles:
    return TlsFiles(tls_dir / "ca.pem", tls_dir / "ca-key.pem", tls_dir / "server.pem", tls_dir / "server-key.pem")


def ensure_tls(settings: Any) -> TlsFiles:
    """Create or reuse the CA and the server certificate under ``settings.tls_dir``.

    Safe to call from several processes at once (the API and the supervisor both do):
    a file lock serialises generation, and files are replaced atomically.
    """
    files = tls_files(Path(settings.tls_dir))
    ensure_home_dir(Path(settings.home_dir))
    ensure_private_dir(files.ca_cert.parent)
    names = _server_names(getattr(settings, "host", "127.0.0.1"))
    lock = open_lock(files.ca_cert.parent / ".lock")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        ca_cert, ca_key = _load_or_create_ca(files)
        if not _server_cert_ok(files, ca_cert, names):
            _issue_server_cert(files, ca_cert, ca_key, names)
    finally:
        os.close(lock)
    return files


def server_ssl_context(files: TlsFiles) -> ssl.SSLContext:
    """A server context that refuses every protocol older than TLS 1.3."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_cert_chain(files.server_cert, files.server_key)
    return ctx


def client_ssl_context(ca_cert: Path) -> ssl.SSLContext:
    """A client context trusting only the local CA (health checks, tests, the console)."""
    ctx = ssl.create_default_context(cafile=str(ca_cert))
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    return ctx


def uvicorn_config_kwargs(files: TlsFiles) -> dict[str, str]:
    """Certificate arguments for ``uvicorn.Config``; the TLS floor is raised after ``load()``."""
    return {"ssl_certfile": str(files.server_cert), "ssl_keyfile": str(files.server_key)}


def tls13_uvicorn_server(app: Any, host: str, port: int, files: TlsFiles, log_level: str = "warning") -> Any:
    """A loaded ``uvicorn.Server`` whose SSL context accepts TLS 1.3 only.

    uvicorn's flags cannot set a minimum version, so the context it builds in
    ``Config.load()`` is tightened afterwards; ``Server.run`` does not reload a loaded config.
    """
    import uvicorn

    config = uvicorn.Config(app, host=host, port=port, log_level=log_level,
                            ssl_certfile=str(files.server_cert), ssl_keyfile=str(files.server_key))
    config.load()
    assert config.ssl is not None
    config.ssl.minimum_version = ssl.TLSVersion.TLSv1_3
    return uvicorn.Server(config)


def run_uvicorn_tls13(app: Any, host: str, port: int, files: TlsFiles, log_level: str = "warning") -> None:
    """Serve ``app`` over HTTPS with TLS 1.3 as the floor until the process is signalled."""
    tls13_uvicorn_server(app, host, port, files, log_level).run()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _server_names(host: str) -> tuple[str, ...]:
    return LOOPBACK_NAMES if host in LOOPBACK_NAMES or host == "0.0.0.0" else (*LOOPBACK_NAMES, host)


def _fresh(cert: x509.Certificate) -> bool:
    return cert.not_valid_after_utc - RENEW_BEFORE > _now() >= cert.not_valid_before_utc


def _load_or_create_ca(files: TlsFiles) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    if files.ca_cert.exists() and files.ca_key.exists():
        try:
            cert = x509.load_pem_x509_certificate(files.ca_cert.read_bytes())
            key = serialization.load_pem_private_key(files.ca_key.read_bytes(), password=None)
            if isinstance(key, ec.EllipticCurvePrivateKey) and _fresh(cert) and (
                _spki(cert.public_key()) == _spki(key.public_key())
            ):
                return cert, key
        except ValueError:
            pass
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "HMS"),
                      x509.NameAttribute(NameOID.COMMON_NAME, "HMS local CA")])
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    write_private(files.ca_key, _key_pem(key))
    write_private(files.ca_cert, cert.public_bytes(serialization.Encoding.PEM))
    return cert, key


def _server_cert_ok(files: TlsFiles, ca_cert: x509.Certificate, names: tuple[str, ...]) -> bool:
    if not (files.server_cert.exists() and files.server_key.exists()):
        return False
    try:
        cert = x509.load_pem_x509_certificate(files.server_cert.read_bytes())
        key = serialization.load_pem_private_key(files.server_key.read_bytes(), password=None)
        cert.verify_directly_issued_by(ca_cert)
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, TypeError, x509.ExtensionNotFound, InvalidSignature):
        return False
    present = {str(v) for v in sans.get_values_for_type(x509.DNSName)}
    present |= {str(v) for v in sans.get_values_for_type(x509.IPAddress)}
    return (
        _fresh(cert)
        and set(names) <= present
        and _spki(cert.public_key()) == _spki(key.public_key())
    )


def _issue_server_cert(files: TlsFiles, ca_cert: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey,
                       names: tuple[str, ...]) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "HMS"),
                                 x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(min(now + SERVER_VALIDITY, ca_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName([_general_name(n) for n in names]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    write_private(files.server_key, _key_pem(key))
    write_private(files.server_cert, cert.public_bytes(serialization.Encoding.PEM))


def _general_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def _key_usage(cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                         data_encipherment=False, key_agreement=not cert_sign, key_cert_sign=cert_sign,
                         crl_sign=cert_sign, encipher_only=False, decipher_only=False)


def _spki(public_key: Any) -> bytes:
    return bytes(public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


__all__ = ["TlsFiles", "client_ssl_context", "ensure_tls", "run_uvicorn_tls13", "server_ssl_context",
           "tls13_uvicorn_server", "tls_files", "uvicorn_config_kwargs"]
