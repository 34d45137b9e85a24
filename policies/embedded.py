"""The Rego bundle evaluated in-process by regopy (rego-cpp).

The bundle is compiled once; each decision then sets the input and runs the
compiled plan on an interpreter kept for the purpose. rego-cpp interpreters are
not thread-safe, so decisions are serialised by a lock (a decision costs well
under a millisecond).
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from policies.bundle import DECISION_PATH, BundleError, load_bundle
from policies.engine import MALFORMED, Decision, decision_from_result, to_input_document, unavailable

log = logging.getLogger(__name__)

_QUERY = "x = data." + DECISION_PATH.replace("/", ".")


class EmbeddedPolicyEngine:
    """``PolicyEngine`` over the bundle at ``bundle_dir`` (default: this package's bundle).

    A bundle that does not load or compile does not raise: the engine records the
    cause in ``error`` and every decision is a denial saying the engine is unavailable.
    """

    def __init__(self, bundle_dir: Path | None = None) -> None:
        self.policy_version = "unknown"
        self.error: str | None = None
        self._lock = threading.Lock()
        self._bundle: Any = None
        self._runner: Any = None
        try:
            self._load(bundle_dir)
        except Exception as exc:  # fail closed, keep the cause for health checks
            self.error = _short(exc)
            log.error("policy bundle unusable: %s", self.error)

    def _load(self, bundle_dir: Path | None) -> None:
        from regopy import Interpreter

        bundle = load_bundle(bundle_dir)
        self.policy_version = bundle.version
        builder = Interpreter()
        for name, text in bundle.modules.items():
            builder.add_module(name, text)
        builder.add_data(bundle.data)
        compiled = builder.build(_QUERY, [DECISION_PATH])
        if not compiled.ok():
            raise BundleError("bundle does not compile")
        self._builder = builder  # keeps the compiled bundle's owner alive
        self._bundle = compiled
        self._runner = Interpreter()

    @property
    def healthy(self) -> bool:
        """Whether the bundle compiled (for health endpoints and start-up checks)."""
        return self.error is None

    def decide(self, input: Mapping[str, Any]) -> Decision:  # noqa: A002
        """Decide one request; see ``policies/README.md`` for the input document."""
        if self.error is not None:
            return unavailable(self.error, self.policy_version)
        try:
            document = to_input_document(input)
        except ValueError as exc:
            return Decision(False, MALFORMED + str(exc), self.policy_version)
        try:
            with self._lock:
                self._runner.set_input(document)
                output = self._runner.query_bundle(self._bundle)
                if not output.ok():
                    return unavailable("evaluation error", self.policy_version)
                result = output[0].bindings.get("x") if len(output) else None
        except Exception as exc:  # any evaluator failure denies; the type alone, never input data
            return unavailable(type(exc).__name__, self.policy_version)
        return decision_from_result(result, self.policy_version)


def _short(exc: BaseException) -> str:
    """A one-line cause without request data: the exception type and the first words of its message."""
    text = str(exc).splitlines()[0][:80] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
