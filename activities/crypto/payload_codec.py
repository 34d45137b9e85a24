"""The Temporal payload codec: every workflow payload is sealed with AES-256-GCM before it leaves the process.

An encoded payload's metadata says ``encoding: binary/encrypted`` and names the key id
and cipher; its data is a 12-byte nonce followed by the ciphertext of the original
serialized payload. The associated data binds the ciphertext to the key id, so a
payload cannot be re-labelled with another key. Payloads written before encryption
was switched on (no such metadata) pass through, so old histories stay readable.
Engineers looking at raw history in the Temporal UI see structure, not patient data.
"""
from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes, PayloadCodec

from activities.crypto.keyring import KeyRingFile, UnknownKey
from workflows.payload_converter import data_converter

ENCODING = b"binary/encrypted"
CIPHER = b"AES-256-GCM"
KEY_ID = "encryption-key-id"
NONCE = 12


class PayloadDecryptionError(ValueError):
    """A payload is encrypted under an unknown key, or was altered."""


class EncryptionCodec(PayloadCodec):
    def __init__(self, keys: KeyRingFile) -> None:
        self._keys = keys

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.seal(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.open(p) for p in payloads]

    def seal(self, payload: Payload) -> Payload:
        key_id, key = self._keys.ring.active()
        nonce = os.urandom(NONCE)
        sealed = AESGCM(key).encrypt(nonce, payload.SerializeToString(), _aad(key_id))
        return Payload(metadata={"encoding": ENCODING, KEY_ID: key_id.encode(), "encryption-cipher": CIPHER},
                       data=nonce + sealed)

    def open(self, payload: Payload) -> Payload:
        if not is_encrypted(payload):
            return payload
        key_id = payload.metadata.get(KEY_ID, b"").decode()
        try:
            key = self._keys.key(key_id)
            plain = AESGCM(key).decrypt(payload.data[:NONCE], payload.data[NONCE:], _aad(key_id))
        except UnknownKey as exc:
            raise PayloadDecryptionError(f"payload encrypted under unknown key {key_id!r}") from exc
        except InvalidTag as exc:
            raise PayloadDecryptionError("payload failed authentication (altered or wrong key)") from exc
        return Payload.FromString(plain)


def is_encrypted(payload: Payload) -> bool:
    return payload.metadata.get("encoding") == ENCODING


def _aad(key_id: str) -> bytes:
    return b"hms-temporal-payload|" + key_id.encode()


def encrypted_data_converter(keys: KeyRingFile) -> DataConverter:
    """The project's converter (pydantic JSON) with every payload, failure messages included, encrypted."""
    return dataclasses.replace(data_converter, payload_codec=EncryptionCodec(keys),
                               failure_converter_class=DefaultFailureConverterWithEncodedAttributes)
