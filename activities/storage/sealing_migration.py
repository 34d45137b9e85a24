"""Converting plaintext columns to fields sealed under each patient's data key, inside a migration.

A migration names its columns (``Column``: table, column, ``text`` or ``json``, the type to go
back to) and calls these helpers, so the column list stays frozen in the migration while the
mechanics are shared. Every table has an ``id`` primary key and a ``patient_id``: the row id and
patient of the associated data, exactly as the repositories seal them. Work happens on the
migration's connection, in its transaction: a failure leaves the database as it was.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from activities.crypto.fields import DataErased, DataKey, FieldCipher
from activities.storage.tasks import TASKS, split_details

S = "hms"


class PlaintextRowsPresent(RuntimeError):
    """The database holds rows to convert, and the migration was not given the keys to convert them."""


@dataclass(frozen=True)
class Column:
    table: str
    column: str
    kind: Literal["text", "json"]
    #: The SQL type the downgrade restores (e.g. ``varchar(500)``, ``text``, ``jsonb``).
    plain_type: str


def _count(bind: sa.Connection, sql: str) -> int:
    return int(bind.execute(sa.text(sql)).scalar() or 0)


def rows_to_convert(bind: sa.Connection, columns: tuple[Column, ...], *, tasks: bool) -> dict[str, int]:
    """``table.column`` → rows holding a value (and ``tasks.details`` of patients' tasks when ``tasks``)."""
    held = {f"{c.table}.{c.column}": _count(bind, f'SELECT count(*) FROM {S}.{c.table} WHERE "{c.column}" IS NOT NULL')
            for c in columns}
    if tasks:
        held["tasks.details"] = _count(bind, f"SELECT count(*) FROM {S}.tasks WHERE patient_id <> ''")
    return {k: n for k, n in held.items() if n}


def refusal(direction: str, held: dict[str, int]) -> str:
    rows = ", ".join(f"{S}.{k}: {n} row(s)" for k, n in held.items())
    return (f"encrypting clinical fields ({direction}) must convert {rows}, but was not given the field cipher. "
            "Give it the keys of $HMS_HOME/keys: activities.storage.migrate.upgrade(url, "
            "cipher=activities.crypto.fields.file_cipher(Path($HMS_HOME) / 'keys')); nothing was changed.")


def to_bytea(bind: sa.Connection, columns: tuple[Column, ...]) -> None:
    for c in columns:
        bind.execute(sa.text(f'ALTER TABLE {S}.{c.table} ALTER COLUMN "{c.column}" TYPE bytea '
                             f'USING convert_to("{c.column}"::text, \'UTF8\')'))


def from_bytea(bind: sa.Connection, columns: tuple[Column, ...]) -> None:
    for c in columns:
        bind.execute(sa.text(f'ALTER TABLE {S}.{c.table} ALTER COLUMN "{c.column}" TYPE {c.plain_type} '
                             f'USING convert_from("{c.column}", \'UTF8\')::{c.plain_type}'))


class PatientKeys:
    """Data keys by patient, created for patients who have none; None for an erased patient."""

    def __init__(self, session: Session, cipher: FieldCipher) -> None:
        self._session, self._cipher, self._keys = session, cipher, dict[str, DataKey | None]()

    def __call__(self, patient_id: str, *, create: bool) -> DataKey | None:
        if patient_id not in self._keys:
            try:
                self._keys[patient_id] = self._cipher.data_key(self._session, patient_id, create=create)
            except DataErased:
                self._keys[patient_id] = None
        return self._keys[patient_id]


def _nullable(bind: sa.Connection, c: Column) -> bool:
    return bind.execute(sa.text(
        "SELECT is_nullable = 'YES' FROM information_schema.columns WHERE table_schema = :s AND table_name = :t "
        "AND column_name = :c"), {"s": S, "t": c.table, "c": c.column}).scalar() is True


def seal_rows(bind: sa.Connection, cipher: FieldCipher, columns: tuple[Column, ...], *, tasks: bool) -> None:
    """Encrypt the (now bytea, still plaintext) values in place; an erased patient's become NULL or empty."""
    with Session(bind=bind) as session:
        keys = PatientKeys(session, cipher)
        for c in columns:
            gone = None if _nullable(bind, c) else b""
            rows = bind.execute(sa.text(f'SELECT id, patient_id, "{c.column}" AS v FROM {S}.{c.table} '
                                        f'WHERE "{c.column}" IS NOT NULL')).all()
            for r in rows:
                key = keys(r.patient_id, create=True)
                value = gone if key is None else cipher.encrypt(key, c.table, c.column, r.id, bytes(r.v).decode())
                bind.execute(sa.text(f'UPDATE {S}.{c.table} SET "{c.column}" = :v WHERE id = :id'),
                             {"v": value, "id": r.id})
        if tasks:
            _seal_task_details(bind, cipher, keys)
        session.flush()


def _seal_task_details(bind: sa.Connection, cipher: FieldCipher, keys: PatientKeys) -> None:
    for r in bind.execute(sa.text(f"SELECT id, patient_id, details FROM {S}.tasks WHERE patient_id <> ''")).all():
        plain, rest = split_details(dict(r.details or {}))
        key = keys(r.patient_id, create=True) if rest else None
        sealed = None if key is None else cipher.encrypt(key, TASKS, "details_enc", r.id, _compact(rest))
        bind.execute(sa.text(f"UPDATE {S}.tasks SET details = CAST(:d AS jsonb), details_enc = :e WHERE id = :id"),
                     {"d": json.dumps(plain), "e": sealed, "id": r.id})


def open_rows(bind: sa.Connection, cipher: FieldCipher, columns: tuple[Column, ...], *, tasks: bool) -> None:
    """Decrypt in place (the bytea then holds UTF-8 plaintext, for ``from_bytea``); an erased patient's: empty."""
    with Session(bind=bind) as session:
        keys = PatientKeys(session, cipher)
        for c in columns:
            gone = None if _nullable(bind, c) else ("{}" if c.kind == "json" else "").encode()
            rows = bind.execute(sa.text(f'SELECT id, patient_id, "{c.column}" AS v FROM {S}.{c.table} '
                                        f'WHERE "{c.column}" IS NOT NULL')).all()
            for r in rows:
                key = keys(r.patient_id, create=False)
                value = gone if key is None else cipher.decrypt(key, c.table, c.column, r.id, r.v).encode()
                bind.execute(sa.text(f'UPDATE {S}.{c.table} SET "{c.column}" = :v WHERE id = :id'),
                             {"v": value, "id": r.id})
        if tasks:
            for r in bind.execute(sa.text(f"SELECT id, patient_id, details, details_enc FROM {S}.tasks "
                                          "WHERE details_enc IS NOT NULL")).all():
                key = keys(r.patient_id, create=False)
                rest: dict[str, Any] = {} if key is None else json.loads(
                    cipher.decrypt(key, TASKS, "details_enc", r.id, r.details_enc))
                bind.execute(sa.text(f"UPDATE {S}.tasks SET details = CAST(:d AS jsonb) WHERE id = :id"),
                             {"d": json.dumps({**dict(r.details or {}), **rest}), "id": r.id})


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=str)
