"""The immudb client's trusted state, persisted as JSON so verification survives restarts.

immudb-py's own persistent service pickles to a shared file; this one writes one small JSON file per
database atomically (0600), and trusts the server's state only on first use, as immudb's clients do.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


class FileRootService:
    """Duck-typed ``immudb.rootService.RootService`` (``init``/``get``/``set``) backed by a JSON file."""

    def __init__(self, path: Path) -> None:
        self._path = Path(path)
        self._state: Any = None

    def init(self, dbname: str, service: Any) -> None:
        from google.protobuf import empty_pb2
        from immudb.rootService import State

        if self._path.exists():
            raw = json.loads(self._path.read_text())
            if raw.get("db_key") == dbname:
                self._state = State(
                    db=raw["db"],
                    txId=raw["txId"],
                    txHash=bytes.fromhex(raw["txHash"]),
                    publicKey=bytes.fromhex(raw["publicKey"]),
                    signature=bytes.fromhex(raw["signature"]),
                )
                self._db_key = dbname
                return
        self._db_key = dbname
        self._state = service.CurrentState(empty_pb2.Empty())

    def get(self) -> Any:
        return self._state

    def set(self, state: Any) -> None:
        self._state = state
        raw = {
            "db_key": self._db_key,
            "db": state.db,
            "txId": state.txId,
            "txHash": bytes(state.txHash).hex(),
            "publicKey": bytes(state.publicKey).hex(),
            "signature": bytes(state.signature).hex(),
        }
        tmp = self._path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(raw, fh)
        os.replace(tmp, self._path)
