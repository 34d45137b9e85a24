"""The composition root: builds engines, the ledger, the policy engine and clients from Settings."""
from __future__ import annotations

from functools import cache, partial
from pathlib import Path

import sqlalchemy as sa
from temporalio.client import Client
from temporalio.service import TLSConfig

from activities.crypto.fields import FieldCipher, file_cipher
from activities.crypto.keyring import KeyRingFile
from activities.crypto.payload_codec import encrypted_data_converter
from activities.storage.db import make_engine
from activities.storage.identity import load_or_create_index_key
from deploy.settings import Settings
from deploy.telemetry import temporal_interceptors
from deploy.telemetry.metered import MeteredLedger, MeteredPolicyEngine
from ledger.base import Ledger
from ledger.keys import load_or_create_signing_key
from policies.engine import PolicyEngine, build_engine


def database_engine(settings: Settings, *, pool_size: int = 10) -> sa.Engine:
    return make_engine(settings.resolved_database_url(), pool_size=pool_size)


def index_key(settings: Settings) -> bytes:
    return load_or_create_index_key(settings.keys_dir / "index.key")


def field_cipher(settings: Settings) -> FieldCipher:
    """Encryption at rest of patient fields: KEKs in ``keys/kek.json``, blind indexes under ``keys/blind-index.key``.

    One per process, so every worker activity and API route shares one cache of unwrapped data keys.
    """
    return _field_cipher(settings.keys_dir)


@cache
def _field_cipher(keys_dir: Path) -> FieldCipher:
    return file_cipher(keys_dir)


def build_ledger(settings: Settings, engine: sa.Engine) -> Ledger:
    """immudb when ``HMS_IMMUDB_URL`` is set, else the embedded Merkle log in PostgreSQL; appends are metered."""
    key, key_id = load_or_create_signing_key(settings.keys_dir / "ledger-ed25519.pem")
    if settings.immudb_url:
        from ledger.immudb_backend import ImmudbLedger

        return MeteredLedger(ImmudbLedger(settings.immudb_url, settings.immudb_user,
                                          settings.immudb_password or "", settings.immudb_database,
                                          settings.run_dir / "immudb-state"))
    from ledger.embedded import EmbeddedLedger

    # Heads are signed every 10 s while this process appends (the publisher starts on the first append).
    return MeteredLedger(EmbeddedLedger(engine, key, key_id, publish_interval=10.0))


def build_policy(settings: Settings) -> PolicyEngine:
    """The policy engine, behind the decision cache unless ``HMS_POLICY_CACHE_TTL`` is 0, counted and timed."""
    engine = build_engine(settings.opa_url)
    if settings.policy_cache_ttl <= 0:
        return MeteredPolicyEngine(engine)
    from policies.cache import CachingPolicyEngine

    return MeteredPolicyEngine(CachingPolicyEngine(engine, ttl_seconds=settings.policy_cache_ttl))


def history_keys(settings: Settings) -> KeyRingFile:
    """The key ring of the Temporal payload codec (``$HMS_HOME/keys/history-codec.json``), one per process."""
    return _key_ring(settings.keys_dir / "history-codec.json")


@cache
def _key_ring(path: Path) -> KeyRingFile:
    return KeyRingFile(path, "hist")


async def connect_temporal(settings: Settings) -> Client:
    """A client whose every payload (inputs, results, signals, updates, failure messages) is encrypted."""
    return await Client.connect(settings.temporal_target, namespace=settings.temporal_namespace,
                                data_converter=encrypted_data_converter(history_keys(settings)),
                                tls=temporal_tls(settings), interceptors=temporal_interceptors(settings))


def temporal_tls(settings: Settings) -> TLSConfig | bool:
    """mTLS to a Temporal cluster when a client certificate is configured; plaintext to the embedded server."""
    cert, key, ca = settings.temporal_tls_cert, settings.temporal_tls_key, settings.temporal_tls_ca
    if not (cert or key or ca):
        return False
    if bool(cert) != bool(key):
        raise ValueError("HMS_TEMPORAL_TLS_CERT and HMS_TEMPORAL_TLS_KEY must be set together")
    return TLSConfig(server_root_ca_cert=ca.read_bytes() if ca else None,
                     client_cert=cert.read_bytes() if cert else None,
                     client_private_key=key.read_bytes() if key else None)


def temporal_connector(settings: Settings):  # noqa: ANN201 - a zero-argument coroutine factory
    return partial(connect_temporal, settings)
