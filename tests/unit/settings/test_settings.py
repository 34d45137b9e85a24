"""The one configuration object: defaults, overrides and refusals."""
from __future__ import annotations

from pathlib import Path

import pytest

from deploy.settings import Settings, sqlalchemy_url


def test_defaults_are_the_fixed_interfaces(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("HMS_API_PORT", "HMS_TEMPORAL_PORT", "HMS_HOME", "HMS_ENV"):
        monkeypatch.delenv(var, raising=False)
    s = Settings()
    assert (s.api_port, s.mllp_port, s.console_port, s.temporal_port, s.temporal_ui_port) == (
        8443, 2575, 8501, 7233, 8233)
    assert s.home_dir == Path(".hms").resolve() and s.ca_cert == s.home_dir / "tls" / "ca.pem"


def test_env_overrides(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HMS_API_PORT", "9443")
    monkeypatch.setenv("HMS_HOME", str(tmp_path))
    s = Settings()
    assert s.api_port == 9443 and s.api_base_url == "https://127.0.0.1:9443" and s.home_dir == tmp_path


def test_production_refuses_embedded_defaults() -> None:
    with pytest.raises(ValueError, match="HMS_DATABASE_URL"):
        Settings(env="production")
    ok = Settings(env="production", database_url="postgresql://db/hms", temporal_address="t:7233",
                  oidc_jwks_url="https://idp/jwks", oidc_issuer="https://idp")
    assert ok.env == "production"


def test_tokens_must_be_short_lived() -> None:
    with pytest.raises(ValueError, match="short-lived"):
        Settings(token_ttl_seconds=86400)


def test_database_url_resolution(tmp_path: Path) -> None:
    assert sqlalchemy_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    s = Settings(home=tmp_path)
    with pytest.raises(RuntimeError, match="hms up"):
        s.resolved_database_url()
    s.run_dir.mkdir(parents=True)
    s.database_url_file.write_text("postgresql+psycopg://x@/postgres?host=/tmp\n")
    assert s.resolved_database_url() == "postgresql+psycopg://x@/postgres?host=/tmp"
    assert Settings(home=tmp_path, database_url="postgres://a@b/c").resolved_database_url() == (
        "postgresql+psycopg://a@b/c")
