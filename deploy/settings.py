"""The one typed configuration object of the HMS (environment prefix ``HMS_``).

Nothing else in the project reads ``os.environ`` for configuration: every
service builds a :class:`Settings` and passes what it needs down.
"""
from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Where state lives, which ports to bind and which engines to use."""

    model_config = SettingsConfigDict(env_prefix="HMS_", extra="ignore")

    env: Literal["development", "production"] = "development"
    home: Path = Field(default=Path(".hms"), description="All local state: database, Temporal file, keys, TLS")

    # Loopback ports of the embedded stack; each overridable so two stacks run side by side.
    host: str = "127.0.0.1"
    api_port: int = 8443
    mllp_port: int = 2575
    #: MLLP over TLS 1.3 (unset: plain MLLP only); HL7 destinations as ``host:port,...`` for outbound messages.
    mllp_tls_port: int | None = None
    hl7_destinations: str | None = None
    #: Intake shards that group-commit inbound HL7 (0: one signal-with-start per message).
    hl7_intake_shards: int = 4
    console_port: int = 8501
    temporal_port: int = 7233
    temporal_ui_port: int = 8233
    #: Where clients of the API (the console, ``hms demo``) reach it when it is not on ``host`` (a cluster
    #: Service, e.g. ``https://hms-api.hms.svc:8443``); unset: ``https://{host}:{api_port}``.
    api_url: str | None = None

    # External engines: unset means "run the embedded one".
    database_url: str | None = None
    temporal_address: str | None = None
    temporal_namespace: str = "default"
    #: mTLS to a Temporal cluster: PEM files of the client certificate, its key and the server's CA
    #: (unset: plaintext, as the embedded dev server on loopback expects).
    temporal_tls_cert: Path | None = None
    temporal_tls_key: Path | None = None
    temporal_tls_ca: Path | None = None
    opa_url: str | None = None
    #: Seconds a policy decision is reused for an identical request (policies/cache.py); 0 turns the cache off.
    policy_cache_ttl: float = 60.0
    immudb_url: str | None = None
    immudb_user: str = "immudb"
    immudb_password: str | None = None
    immudb_database: str = "defaultdb"

    # Authentication: the embedded issuer by default, any OIDC issuer in production.
    token_ttl_seconds: int = 900
    token_issuer: str = "https://hms.local/issuer"
    token_audience: str = "hms-api"
    oidc_jwks_url: str | None = None
    oidc_issuer: str | None = None

    #: Test hook: a comma-separated subset of the local stack to run (e.g. "postgres,temporal").
    services: str | None = None

    task_queue: str = "hms-journeys"
    #: Task queue of the inference workers (``hms worker --queue inference``); unset: inference runs on
    #: ``task_queue`` with everything else, as on one machine.
    inference_task_queue: str | None = None
    bed_wait_deadline_seconds: int = 1800

    # Observability (deploy/telemetry): log format, where spans go, the worker's metrics port.
    #: ``text`` for people at a terminal, ``json`` (one object per line, with trace ids) for log shippers.
    log_format: Literal["text", "json"] = "text"
    #: Span export: ``none``, ``console`` (stdout), ``file`` ($HMS_HOME/logs/traces.jsonl), ``otlp``.
    otel_traces: Literal["none", "console", "file", "otlp"] = "none"
    #: OTLP collector URL; set alone it means ``otel_traces=otlp`` (needs an OTLP exporter package installed).
    otel_endpoint: str | None = None
    #: Loopback port of a worker's Prometheus endpoint (Temporal SDK and process metrics); 0 turns it off.
    worker_metrics_port: int = Field(default=0, ge=0, le=65535)

    @model_validator(mode="after")
    def _refuse_insecure_production(self) -> Settings:
        if self.env == "production":
            missing = [
                name
                for name, value in (
                    ("HMS_DATABASE_URL", self.database_url),
                    ("HMS_TEMPORAL_ADDRESS", self.temporal_address),
                    ("HMS_OIDC_JWKS_URL", self.oidc_jwks_url),
                    ("HMS_OIDC_ISSUER", self.oidc_issuer),
                )
                if not value
            ]
            if missing:
                raise ValueError(f"production needs {', '.join(missing)}: embedded defaults are for development only")
        if self.token_ttl_seconds <= 0 or self.token_ttl_seconds > 3600:
            raise ValueError("HMS_TOKEN_TTL_SECONDS must be between 1 and 3600: tokens are short-lived")
        return self

    @cached_property
    def home_dir(self) -> Path:
        return self.home.expanduser().resolve()

    @property
    def tls_dir(self) -> Path:
        return self.home_dir / "tls"

    @property
    def keys_dir(self) -> Path:
        return self.home_dir / "keys"

    @property
    def run_dir(self) -> Path:
        return self.home_dir / "run"

    @property
    def log_dir(self) -> Path:
        return self.home_dir / "logs"

    @property
    def pg_dir(self) -> Path:
        return self.home_dir / "pg"

    @property
    def temporal_db_file(self) -> Path:
        return self.home_dir / "temporal" / "temporal.db"

    @property
    def ca_cert(self) -> Path:
        return self.tls_dir / "ca.pem"

    @property
    def temporal_target(self) -> str:
        return self.temporal_address or f"{self.host}:{self.temporal_port}"

    @property
    def api_base_url(self) -> str:
        return self.api_url.rstrip("/") if self.api_url else f"https://{self.host}:{self.api_port}"

    @property
    def database_url_file(self) -> Path:
        """Where the supervisor records the embedded database's URL for the other services."""
        return self.run_dir / "database_url"

    def resolved_database_url(self) -> str:
        """The database URL: the configured one, else the embedded server's recorded URL."""
        if self.database_url:
            return sqlalchemy_url(self.database_url)
        if self.database_url_file.exists():
            return self.database_url_file.read_text().strip()
        raise RuntimeError(
            f"no database: HMS_DATABASE_URL is unset and the embedded PostgreSQL under {self.pg_dir} "
            "is not running (start the stack with `hms up`)"
        )


def sqlalchemy_url(uri: str) -> str:
    """Normalise a libpq URI to SQLAlchemy's psycopg 3 dialect."""
    for prefix in ("postgresql://", "postgres://"):
        if uri.startswith(prefix):
            return "postgresql+psycopg://" + uri[len(prefix):]
    return uri


def get_settings() -> Settings:
    return Settings()
