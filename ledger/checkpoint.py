"""A client-side checkpoint: the last signed tree head this client verified, kept outside the ledger.

The ledger's own ``verify()`` can only compare the store with itself. An operator who truncates the
log back to an older state (a rollback) or rewrites its history and re-signs new heads (a fork) can
make the store self-consistent again; what they cannot do is prove that the new log *extends* a head a
client saw before. So each :meth:`Checkpoint.check` asks for an RFC 9162 consistency proof from the
stored head to the current one, and only a verified extension replaces the stored head.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ledger import verify
from ledger.base import Ledger, LedgerError
from ledger.model import SignedTreeHead


@dataclass(frozen=True)
class CheckResult:
    """``status``: first, unchanged, extended (all ok), or rollback, fork, bad-head (tampering)."""

    ok: bool
    status: str
    message: str
    previous: SignedTreeHead | None
    current: SignedTreeHead | None


class Checkpoint:
    """The last verified head of one ledger, in a JSON file (e.g. ``$HMS_HOME/run/ledger-checkpoint.json``)."""

    def __init__(self, path: Path, public_key: Ed25519PublicKey) -> None:
        self.path = Path(path)
        self._key = public_key

    def load(self) -> SignedTreeHead | None:
        """The stored head, or None before the first check."""
        if not self.path.exists():
            return None
        return SignedTreeHead.from_dict(json.loads(self.path.read_text())["head"])

    def _store(self, head: SignedTreeHead) -> None:
        # Write-then-rename, so a crash never leaves a half-written checkpoint behind.
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".checkpoint-")
        with os.fdopen(fd, "w") as fh:
            json.dump({"head": head.to_dict()}, fh)
        os.replace(tmp, self.path)

    def check(self, ledger: Ledger) -> CheckResult:
        """Verify the ledger's current head extends the stored one; store it if so."""
        previous = self.load()
        try:
            current = ledger.signed_head()
        except LedgerError as exc:
            return CheckResult(False, "bad-head", f"the ledger cannot sign a head: {exc}", previous, None)
        if not verify.verify_head(current, self._key):
            return CheckResult(False, "bad-head", "the current head's signature does not verify", previous, current)
        if previous is None:
            self._store(current)
            return CheckResult(True, "first", f"checkpoint started at size {current.tree_size}", None, current)
        if current.tree_size < previous.tree_size:
            return CheckResult(
                False,
                "rollback",
                f"rollback: the log has {current.tree_size} entries, but a head of size "
                f"{previous.tree_size} was verified before",
                previous,
                current,
            )
        try:
            proof = ledger.consistency_proof(previous.tree_size, current.tree_size)
        except LedgerError as exc:
            return CheckResult(False, "fork", f"fork: no consistency proof from the checkpoint ({exc})",
                               previous, current)
        if not verify.verify_consistency(proof, previous, current, self._key):
            return CheckResult(
                False,
                "fork",
                f"fork: the log of size {current.tree_size} does not extend the verified head of size "
                f"{previous.tree_size} (history was rewritten)",
                previous,
                current,
            )
        if current.tree_size == previous.tree_size:
            return CheckResult(True, "unchanged", f"unchanged at size {current.tree_size}", previous, current)
        self._store(current)
        return CheckResult(
            True, "extended", f"extended from {previous.tree_size} to {current.tree_size}", previous, current
        )
