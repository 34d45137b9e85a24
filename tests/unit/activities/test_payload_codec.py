"""The payload codec and its key ring: sealed payloads, key ids, tampering, rotation, concurrent creation."""
from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path

import pytest
from temporalio.api.common.v1 import Payload

from activities.crypto.keyring import KeyRingFile
from activities.crypto.payload_codec import (
    ENCODING,
    KEY_ID,
    EncryptionCodec,
    PayloadDecryptionError,
    encrypted_data_converter,
)
from workflows.contracts import AuditContext

SECRET = b'{"family": "Verma", "identifier": "MRN-0042"}'


def plain(data: bytes = SECRET) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=data)


def test_a_sealed_payload_hides_its_content_and_names_its_key(tmp_path: Path) -> None:
    keys = KeyRingFile(tmp_path / "ring.json", "hist")
    sealed = EncryptionCodec(keys).seal(plain())
    assert sealed.metadata["encoding"] == ENCODING
    assert sealed.metadata[KEY_ID].decode() == keys.ring.active_id
    assert b"Verma" not in sealed.SerializeToString() and b"MRN-0042" not in sealed.SerializeToString()
    assert EncryptionCodec(keys).open(sealed) == plain()
    # A fresh nonce each time: the same payload never seals to the same bytes.
    assert EncryptionCodec(keys).seal(plain()).data != sealed.data


def test_altered_relabelled_or_foreign_payloads_are_refused(tmp_path: Path) -> None:
    keys = KeyRingFile(tmp_path / "ring.json", "hist")
    codec = EncryptionCodec(keys)
    sealed = codec.seal(plain())
    flipped = Payload(metadata=dict(sealed.metadata), data=sealed.data[:-1] + bytes([sealed.data[-1] ^ 1]))
    with pytest.raises(PayloadDecryptionError, match="altered"):
        codec.open(flipped)
    other = KeyRingFile(tmp_path / "other.json", "hist")
    with pytest.raises(PayloadDecryptionError, match="unknown key"):
        EncryptionCodec(other).open(sealed)
    keys.rotate()
    relabelled = Payload(metadata={**sealed.metadata, KEY_ID: keys.ring.active_id.encode()}, data=sealed.data)
    with pytest.raises(PayloadDecryptionError):
        codec.open(relabelled)


def test_payloads_from_before_encryption_pass_through(tmp_path: Path) -> None:
    codec = EncryptionCodec(KeyRingFile(tmp_path / "ring.json", "hist"))
    assert codec.open(plain()) == plain()


def test_rotation_keeps_old_payloads_readable_here_and_in_other_processes(tmp_path: Path) -> None:
    path = tmp_path / "ring.json"
    here, elsewhere = KeyRingFile(path, "hist"), KeyRingFile(path, "hist")
    old = EncryptionCodec(here).seal(plain())
    first = here.ring.active_id
    here.rotate()
    assert here.ring.active_id != first and set(here.ring.keys) == {first, here.ring.active_id}
    new = EncryptionCodec(here).seal(plain())
    assert new.metadata[KEY_ID].decode() == here.ring.active_id
    # The other process still holds the old ring; it re-reads the file on the unknown key id.
    assert EncryptionCodec(elsewhere).open(new) == plain() and EncryptionCodec(elsewhere).open(old) == plain()
    assert (path.stat().st_mode & 0o777) == 0o600
    assert json.loads(path.read_text())["active"] == here.ring.active_id


def test_processes_starting_together_agree_on_one_ring(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "ring.json"
    rings: list[str] = []
    barrier = threading.Barrier(8)

    def start() -> None:
        barrier.wait()
        rings.append(KeyRingFile(path, "hist").ring.active_id)

    threads = [threading.Thread(target=start) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(rings)) == 1 and len(rings) == 8
    assert sorted(p.name for p in path.parent.iterdir()) == ["ring.json"]  # no temporary file left


def test_the_converter_round_trips_contracts(tmp_path: Path) -> None:
    converter = encrypted_data_converter(KeyRingFile(tmp_path / "ring.json", "hist"))
    ctx = AuditContext(journey_id="journey-1", requested_by="registration-1")

    async def round_trip() -> list:
        payloads = await converter.encode([ctx])
        assert all(p.metadata["encoding"] == ENCODING for p in payloads)
        return await converter.decode(payloads, [AuditContext])

    assert asyncio.run(round_trip()) == [ctx]
