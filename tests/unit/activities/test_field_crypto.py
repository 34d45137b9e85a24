"""The field cipher, blind indexes and key-encryption keys, without a database."""
from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from activities.crypto.fields import (
    DataKey,
    FieldCipher,
    FieldIntegrityError,
    file_cipher,
    load_or_create_key,
)
from activities.crypto.kms import FileKms, KeyUnavailable, Kms, MemoryKms

NAME = "Zoraida Quenby-Ashworth"


def cipher() -> FieldCipher:
    return FieldCipher(MemoryKms(), os.urandom(32))


def key(patient_id: str = "p-1") -> DataKey:
    return DataKey(patient_id, os.urandom(32))


def test_round_trip_hides_the_value_and_never_repeats() -> None:
    c, k = cipher(), key()
    blob = c.encrypt(k, "patients", "family", "p-1", NAME)
    assert NAME.encode() not in blob and blob[:1] == b"\x01"
    assert c.decrypt(k, "patients", "family", "p-1", blob) == NAME
    assert c.encrypt(k, "patients", "family", "p-1", NAME) != blob  # a fresh nonce every time
    assert c.decrypt(k, "patients", "given", "p-1", c.encrypt(k, "patients", "given", "p-1", "")) == ""


@pytest.mark.parametrize(("table", "column", "row_id", "patient_id"), [
    ("patients", "given", "p-1", "p-1"),           # another column of the same row
    ("patients", "family", "p-2", "p-1"),          # the same column of another row
    ("clinical_notes", "family", "p-1", "p-1"),    # another table
])
def test_a_ciphertext_moved_elsewhere_does_not_decrypt(table: str, column: str, row_id: str,
                                                        patient_id: str) -> None:
    c, k = cipher(), key("p-1")
    blob = c.encrypt(k, "patients", "family", "p-1", NAME)
    with pytest.raises(FieldIntegrityError):
        c.decrypt(DataKey(patient_id, k.key), table, column, row_id, blob)


def test_another_patients_key_or_an_altered_byte_is_refused() -> None:
    c, k = cipher(), key("p-1")
    blob = c.encrypt(k, "patients", "family", "p-1", NAME)
    with pytest.raises(FieldIntegrityError):
        c.decrypt(DataKey("p-1", os.urandom(32)), "patients", "family", "p-1", blob)
    with pytest.raises(FieldIntegrityError):
        c.decrypt(DataKey("p-2", k.key), "patients", "family", "p-1", blob)
    altered = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(FieldIntegrityError):
        c.decrypt(k, "patients", "family", "p-1", altered)
    with pytest.raises(FieldIntegrityError, match="not an encrypted field"):
        c.decrypt(k, "patients", "family", "p-1", NAME.encode())


def test_associated_data_parts_may_not_smuggle_separators() -> None:
    with pytest.raises(ValueError, match="must not contain"):
        cipher().encrypt(key(), "patients", "family", "p-1|x", NAME)


def test_blind_index_is_keyed_deterministic_and_separates_systems() -> None:
    c = cipher()
    a = c.blind_index("urn:hms:mrn", "MRN-77")
    assert a == c.blind_index("urn:hms:mrn", "MRN-77") and len(a) == 32 and b"MRN-77" not in a
    assert a != c.blind_index("urn:hms:mrn", "MRN-78")
    assert a != c.blind_index("urn:other", "MRN-77")
    assert c.blind_index("a", "b|c") != c.blind_index("a|b", "c")  # length-prefixed: no ambiguity
    assert a != cipher().blind_index("urn:hms:mrn", "MRN-77")  # another index key, another index
    with pytest.raises(ValueError):
        FieldCipher(MemoryKms(), b"short")


def test_successor_ids_are_stable_uuids() -> None:
    c = cipher()
    assert c.successor_id("p-1") == c.successor_id("p-1") != c.successor_id("p-2")
    assert len(c.successor_id("p-1")) == 36


@pytest.mark.parametrize("backend", ["memory", "file"])
def test_kms_wraps_bound_to_context_and_keeps_old_keks(backend: str, tmp_path: Path) -> None:
    kms: Kms = MemoryKms() if backend == "memory" else FileKms(tmp_path / "kek.json")
    assert isinstance(kms, Kms)
    dek = os.urandom(32)
    kek_id, wrapped = kms.wrap(dek, b"patient|p-1")
    assert dek not in wrapped and kek_id == kms.active_id()
    assert kms.unwrap(kek_id, wrapped, b"patient|p-1") == dek
    with pytest.raises(KeyUnavailable):
        kms.unwrap(kek_id, wrapped, b"patient|p-2")
    new = kms.rotate()
    assert new != kek_id and kms.active_id() == new
    assert kms.unwrap(kek_id, wrapped, b"patient|p-1") == dek  # the old KEK still unwraps
    with pytest.raises(KeyUnavailable):
        kms.unwrap(new, wrapped, b"patient|p-1")  # relabelled with another KEK
    with pytest.raises(KeyUnavailable):
        kms.unwrap("kek-unknown", wrapped, b"patient|p-1")


def test_file_kms_is_private_and_follows_a_rotation_made_by_another_process(tmp_path: Path) -> None:
    running, operator = FileKms(tmp_path / "keys" / "kek.json"), FileKms(tmp_path / "keys" / "kek.json")
    assert (tmp_path / "keys" / "kek.json").stat().st_mode & 0o777 == 0o600
    assert running.active_id() == operator.active_id()
    old_id, old_wrapped = running.wrap(b"k" * 32, b"ctx")
    new_id = operator.rotate()
    # The running process wraps its next data key with the new KEK and unwraps either.
    assert running.wrap(b"k" * 32, b"ctx")[0] == new_id
    assert running.unwrap(old_id, old_wrapped, b"ctx") == b"k" * 32
    _, new_wrapped = operator.wrap(b"j" * 32, b"ctx")
    assert running.unwrap(new_id, new_wrapped, b"ctx") == b"j" * 32
    assert sorted(running.key_ids()) == sorted([old_id, new_id])


def test_key_files_are_created_once_even_when_raced(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "blind-index.key"
    seen: list[bytes] = []
    threads = [threading.Thread(target=lambda: seen.append(load_or_create_key(path))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(seen)) == 1 and len(seen[0]) == 32 and path.stat().st_mode & 0o777 == 0o600
    path.write_bytes(b"short")
    with pytest.raises(ValueError, match="32 bytes"):
        load_or_create_key(path)


def test_file_cipher_reads_the_same_keys_in_every_process(tmp_path: Path) -> None:
    a, b = file_cipher(tmp_path), file_cipher(tmp_path)
    assert a.blind_index("s", "v") == b.blind_index("s", "v")
    assert a.kms.active_id() == b.kms.active_id()
    assert {p.name for p in tmp_path.iterdir()} == {"kek.json", "blind-index.key"}
