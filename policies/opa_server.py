"""The same Rego bundle evaluated by an OPA server (or sidecar) through ``opa-python-client``.

Used when ``HMS_OPA_URL`` is set. Decisions POST ``{"input": ...}`` to
``/v1/data/hms/authz/decision``; :func:`push_bundle` loads the bundle's modules
(``PUT /v1/policies/<id>``) and data (``PUT /v1/data/<dir>/<key>``) into a server
that does not pull bundles itself.
"""
from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from opa_client import OpaClient

from policies.bundle import DECISION_PATH, load_bundle
from policies.engine import MALFORMED, Decision, decision_from_result, to_input_document, unavailable

_PACKAGE_PATH, _RULE = DECISION_PATH.rsplit("/", 1)


def opa_client_for(url: str, timeout: float = 2.0, *, token: str | None = None) -> OpaClient:
    """An ``OpaClient`` for ``http(s)://host:port``; raises ``ValueError`` on a URL it cannot use."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("OPA URL must be http(s)://host[:port]")
    if parts.path not in ("", "/"):
        raise ValueError("OPA URL must not carry a path (the client always talks to /v1)")
    port = parts.port or (443 if parts.scheme == "https" else 8181)
    # One retry only: a decision waits on this call, and failing closed fast beats a slow allow.
    return OpaClient(
        host=parts.hostname, port=port, ssl=parts.scheme == "https", timeout=timeout, retries=1, token=token
    )


class OpaServerPolicyEngine:
    """``PolicyEngine`` backed by an OPA server at ``url``.

    ``policy_version`` is the local bundle's content hash: deploy the same bundle to
    the server (for example with :meth:`push_bundle`) so the ledger names it truly.
    """

    def __init__(self, url: str, timeout: float = 2.0, *, bundle_dir: Path | None = None,
                 token: str | None = None) -> None:
        self._client = opa_client_for(url, timeout, token=token)
        self._bundle_dir = bundle_dir
        self._lock = threading.Lock()
        try:
            self.policy_version = load_bundle(bundle_dir).version
        except Exception:  # the server holds the policy; a missing local copy only loses the version
            self.policy_version = "unknown"

    def decide(self, input: Mapping[str, Any]) -> Decision:  # noqa: A002
        """Ask the server; any transport, HTTP or shape problem is a denial."""
        try:
            document = to_input_document(input)
        except ValueError as exc:
            return Decision(False, MALFORMED + str(exc), self.policy_version)
        try:
            answer = self._client.query_rule(input_data=document, package_path=_PACKAGE_PATH, rule_name=_RULE)
        except Exception as exc:  # requests errors, HTTP errors, bad JSON: fail closed
            status = getattr(getattr(exc, "response", None), "status_code", None)
            cause = type(exc).__name__ + (f" (HTTP {status})" if status else "")
            return unavailable(cause, self.policy_version)
        if not isinstance(answer, Mapping):
            return unavailable("malformed server answer", self.policy_version)
        return decision_from_result(answer.get("result"), self.policy_version)

    def push_bundle(self) -> str:
        """Load this engine's bundle into its server; returns the bundle version."""
        with self._lock:
            return push_bundle(self._client, self._bundle_dir)

    def close(self) -> None:
        """Release the HTTP session."""
        self._client.close_connection()


def push_bundle(client: OpaClient | str, bundle_dir: Path | None = None) -> str:
    """Put every policy module and data document of the bundle on an OPA server.

    Data goes first, one document per top-level key of each ``data.json``
    (``hms/authz/data.json`` key ``roles`` -> ``PUT /v1/data/hms/authz/roles``), so
    no write overlaps a package path. Raises on any refusal: this is a deployment
    step, and a half-loaded policy must not go unnoticed.
    """
    opa = opa_client_for(client) if isinstance(client, str) else client
    bundle = load_bundle(bundle_dir)
    for mount, doc in bundle.data_files.items():
        for key, value in doc.items():
            if not isinstance(value, dict):
                raise ValueError(f"data key {mount}/{key} must hold an object to be pushed")
            opa.update_or_create_data(value, f"{mount}/{key}" if mount else key)
    for name, text in bundle.modules.items():
        opa.update_policy_from_string(text, name.removesuffix(".rego"), rego_compat=False)
    return bundle.version
