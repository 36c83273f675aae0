"""Personal data encrypted at rest with one key per person (used by intake and feedback).

Each person gets a random 256-bit data key, stored only wrapped (AES-GCM) under a
key-encryption key derived from `WOMENTO_SECRET_KEY`. Their details are encrypted with
that data key, bound to their person id. Erasing a person is deleting the wrapped key:
every copy of their ciphertext, backups included, becomes unreadable.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from typing import Any
from uuid import UUID

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

NONCE_BYTES = 12


class PersonalDataVault:
    def __init__(self, secret_key: str) -> None:
        kek = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=b"womento-personal-data", info=b"kek-v1"
        ).derive(secret_key.encode())
        self._kek = AESGCM(kek)

    def new_wrapped_key(self, person_id: UUID) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._kek.encrypt(nonce, AESGCM.generate_key(256), person_id.bytes)

    def encrypt(self, wrapped_key: bytes, person_id: UUID, details: dict[str, Any]) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        plaintext = json.dumps(details, ensure_ascii=False).encode()
        return nonce + self._data_key(wrapped_key, person_id).encrypt(
            nonce, plaintext, person_id.bytes
        )

    def decrypt(self, wrapped_key: bytes, person_id: UUID, blob: bytes) -> dict[str, Any]:
        data_key = self._data_key(wrapped_key, person_id)
        plaintext = data_key.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], person_id.bytes)
        details: dict[str, Any] = json.loads(plaintext)
        return details

    def _data_key(self, wrapped_key: bytes, person_id: UUID) -> AESGCM:
        key = self._kek.decrypt(
            wrapped_key[:NONCE_BYTES], wrapped_key[NONCE_BYTES:], person_id.bytes
        )
        return AESGCM(key)


@lru_cache(maxsize=4)
def vault_for(secret_key: str) -> PersonalDataVault:
    return PersonalDataVault(secret_key)
