"""The OPA-server engine against an in-process stand-in for OPA's REST API.

No OPA binary is available here, so a small HTTP handler plays the server: it
stores what ``push_bundle`` PUTs, and answers ``POST /v1/data/hms/authz/decision``
by evaluating the pushed bundle with the embedded engine. This checks the wire
contract (paths, bodies, answers) and fail-closed handling; the real-server
contract suite is ``tests/integration/policies/test_opa_contract.py``.
"""
from __future__ import annotations

import json
import re
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from policies.acceptance import CASES, Case
from policies.bundle import load_bundle
from policies.embedded import EmbeddedPolicyEngine
from policies.opa_server import OpaServerPolicyEngine, opa_client_for, push_bundle


@dataclass
class FakeOpa:
    """What the fake server holds and how it should misbehave."""

    policies: dict[str, str] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    inputs: list[Any] = field(default_factory=list)
    mode: str = "ok"  # ok | status500 | garbage | wrong-shape
    engine: EmbeddedPolicyEngine | None = None
    url: str = ""


def _handler(state: FakeOpa) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep test output clean
            pass

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length", 0)))

        def _send(self, status: int, payload: Any = None, raw: bytes | None = None) -> None:
            body = raw if raw is not None else (b"" if payload is None else json.dumps(payload).encode())
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_PUT(self) -> None:
            body = self._body()
            if self.path.startswith("/v1/policies/"):
                assert self.headers["Content-Type"] == "text/plain"
                state.policies[self.path.removeprefix("/v1/policies/")] = body.decode()
                self._send(200, {})
            elif self.path.startswith("/v1/data/"):
                state.data[self.path.removeprefix("/v1/data/")] = json.loads(body)
                self._send(204)
            else:
                self._send(404, {"code": "not_found", "message": "no such path"})

        def do_POST(self) -> None:
            payload = json.loads(self._body())
            if self.path != "/v1/data/hms/authz/decision":
                self._send(404, {"code": "not_found", "message": "no such path"})
                return
            state.inputs.append(payload["input"])
            if state.mode == "status500":
                self._send(500, {"code": "internal_error", "message": "boom"})
            elif state.mode == "garbage":
                self._send(200, raw=b"<html>proxy error</html>")
            elif state.mode == "wrong-shape":
                self._send(200, {"result": {"allow": "yes", "reason": 1}})
            elif state.engine is None:
                self._send(200, {})  # OPA's answer for an undefined document
            else:
                d = state.engine.decide(payload["input"])
                self._send(200, {"result": {"allow": d.allow, "reason": d.reason}})

    return Handler


def _materialise(state: FakeOpa, root: Path) -> None:
    """Write what was pushed back to disk as a bundle, so the fake evaluates exactly that."""
    for policy_id, text in state.policies.items():
        path = root / f"{policy_id}.rego"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    merged: dict[str, dict[str, Any]] = {}
    for data_path, doc in state.data.items():
        mount, key = data_path.rsplit("/", 1)
        merged.setdefault(mount, {})[key] = doc
    for mount, doc in merged.items():
        (root / mount).mkdir(parents=True, exist_ok=True)
        (root / mount / "data.json").write_text(json.dumps(doc))
    state.engine = EmbeddedPolicyEngine(root)


@contextmanager
def _serve() -> Iterator[FakeOpa]:
    state = FakeOpa()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def fake_opa() -> Iterator[FakeOpa]:
    with _serve() as state:
        yield state


@pytest.fixture(scope="module")
def pushed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeOpa]:
    """One fake server holding the pushed bundle, shared by the matrix cases."""
    with _serve() as state:
        assert push_bundle(state.url) == load_bundle().version
        _materialise(state, tmp_path_factory.mktemp("server-bundle"))
        yield state


def test_push_bundle_sends_every_module_and_data_document(fake_opa: FakeOpa) -> None:
    push_bundle(opa_client_for(fake_opa.url))
    bundle = load_bundle()
    assert fake_opa.policies == {name.removesuffix(".rego"): text for name, text in bundle.modules.items()}
    assert set(fake_opa.data) == {f"hms/authz/{key}" for key in bundle.data_files["hms/authz"]}
    assert not any("_test" in policy_id for policy_id in fake_opa.policies)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_acceptance_matrix_over_the_wire(pushed: FakeOpa, case: Case) -> None:
    engine = OpaServerPolicyEngine(pushed.url)
    decision = engine.decide(case.input)
    assert decision.allow is case.allow, decision.reason
    assert case.reason_contains in decision.reason
    assert pushed.inputs[-1] == case.input  # the document is posted unchanged as {"input": ...}


def test_engine_push_bundle_method(fake_opa: FakeOpa) -> None:
    engine = OpaServerPolicyEngine(fake_opa.url)
    assert engine.push_bundle() == engine.policy_version
    assert "hms/authz/authz" in fake_opa.policies
    engine.close()


@pytest.mark.parametrize(("mode", "cause"), [("ok", "decision undefined"), ("status500", "HTTP 500"),
                                              ("garbage", ""), ("wrong-shape", "malformed decision")])
def test_server_trouble_denies_with_reason(fake_opa: FakeOpa, mode: str, cause: str) -> None:
    fake_opa.mode = mode  # in "ok" mode nothing was pushed, so the decision is undefined
    decision = OpaServerPolicyEngine(fake_opa.url, timeout=2.0).decide(CASES[0].input)
    assert decision.allow is False
    assert decision.reason.startswith("policy engine unavailable: ")
    assert cause in decision.reason


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_server_denies_without_raising() -> None:
    decision = OpaServerPolicyEngine(f"http://127.0.0.1:{_closed_port()}", timeout=0.5).decide(CASES[0].input)
    assert decision.allow is False
    assert decision.reason.startswith("policy engine unavailable: ")


def test_malformed_input_never_reaches_the_server(fake_opa: FakeOpa) -> None:
    decision = OpaServerPolicyEngine(fake_opa.url).decide({"subject": object()})  # type: ignore[dict-item]
    assert decision.allow is False and decision.reason.startswith("malformed input: ")
    assert fake_opa.inputs == []


@pytest.mark.parametrize("url", ["ftp://opa:8181", "opa:8181", "http://127.0.0.1:8181/v1/data"])
def test_unusable_urls_are_refused_at_construction(url: str) -> None:
    with pytest.raises(ValueError):
        OpaServerPolicyEngine(url)


def test_url_parts_reach_the_client() -> None:
    client = opa_client_for("https://opa.internal:9443", timeout=1.0)
    assert client.root_url == "https://opa.internal:9443/v1"
    assert opa_client_for("http://localhost").root_url == "http://localhost:8181/v1"


def test_pushed_data_paths_never_overlap_policy_paths() -> None:
    # OPA refuses a data write under a package or rule path; keep data keys and rule names apart.
    bundle = load_bundle()
    packages = {m.group(1) for text in bundle.modules.values()
                for m in [re.search(r"^package\s+([\w.]+)", text, re.MULTILINE)] if m}
    rules = {name for text in bundle.modules.values() if "package hms.authz\n" in text
             for name in re.findall(r"^(?:default\s+)?([a-z_]\w*)\b", text, re.MULTILINE)}
    for mount, doc in bundle.data_files.items():
        prefix = mount.replace("/", ".")
        for key in doc:
            assert f"{prefix}.{key}" not in packages
            assert not any(p.startswith(f"{prefix}.{key}.") for p in packages)
            assert not (prefix == "hms.authz" and key in rules), key
