"""Clinical fields sealed under the patient's data key, for the repositories.

The same scheme as demographics and notes (``activities.crypto.fields``): AES-256-GCM, the
associated data naming table, column, row id and patient, so a ciphertext pasted into another
row, column or patient's record fails to open. ``None`` stays ``None`` (a column that was
empty reveals only that it was empty). JSON values are sealed as their compact serialisation.

Lists read many rows of many patients: ``keys_for`` fetches all their wrapped keys in one
query, ``key_of`` remembers a key for the rest of the session, and the cipher's cache spares
the unwrapping, so no list pays one key lookup per row.
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy.orm import Session

from activities.crypto import dek_store
from activities.crypto.fields import DataErased, DataKey, FieldCipher, NoDataKey


def seal(cipher: FieldCipher, key: DataKey, table: str, column: str, row_id: str, value: str | None) -> bytes | None:
    return None if value is None else cipher.encrypt(key, table, column, row_id, value)


def unseal(cipher: FieldCipher, key: DataKey, table: str, column: str, row_id: str,
           blob: bytes | None) -> str | None:
    return None if blob is None else cipher.decrypt(key, table, column, row_id, blob)


def seal_json(cipher: FieldCipher, key: DataKey, table: str, column: str, row_id: str, value: Any) -> bytes | None:
    if value is None:
        return None
    return cipher.encrypt(key, table, column, row_id, json.dumps(value, separators=(",", ":"), default=str))


def unseal_json(cipher: FieldCipher, key: DataKey, table: str, column: str, row_id: str,
                blob: bytes | None) -> Any:
    return None if blob is None else json.loads(cipher.decrypt(key, table, column, row_id, blob))


def keys_for(session: Session, cipher: FieldCipher, patient_ids: Iterable[str]) -> dict[str, DataKey | Exception]:
    """Each patient's data key, or the reason there is none (``DataErased``, ``NoDataKey``), in one query."""
    wanted = sorted(set(patient_ids))
    if not wanted:
        return {}
    stored = dek_store.stored_keys(session, wanted)
    out: dict[str, DataKey | Exception] = {}
    for pid in wanted:
        if pid not in stored:
            out[pid] = NoDataKey(f"patient {pid} has no data key")
            continue
        try:
            out[pid] = cipher.key_from(stored[pid])
        except DataErased as exc:
            out[pid] = exc
    return out


def key_or_raise(found: DataKey | Exception) -> DataKey:
    """The key of a ``keys_for`` answer; its exception (``DataErased``, ``NoDataKey``) otherwise."""
    if isinstance(found, Exception):
        raise found
    return found


def key_of(session: Session, cipher: FieldCipher, patient_id: str) -> DataKey:
    """The patient's data key, looked up once per session (a search opening many rows of one patient).

    Raises ``DataErased`` (or ``NoDataKey``, not remembered) like ``FieldCipher.data_key``; the answer
    is kept for the session only, so a key shredded later is seen by the next request.
    """
    memo: dict[str, DataKey | Exception] = session.info.setdefault("hms_data_keys", {})
    if patient_id not in memo:
        try:
            memo[patient_id] = cipher.data_key(session, patient_id)
        except DataErased as exc:
            memo[patient_id] = exc
    return key_or_raise(memo[patient_id])
