"""Encryption of connection secrets at rest, with Fernet.

The key is ``DBPLANE_SECRET_KEY`` or, failing that, a key file created with mode 0600 in
the data directory on first start. Replicas that share a PostgreSQL metadata store must
share the key: set ``DBPLANE_SECRET_KEY`` on each.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from dbplane.errors import DbplaneError, InvalidField

__all__ = ["SecretBox", "load_or_create_key"]


def load_or_create_key(key: str | None, key_file: Path) -> bytes:
    if key:
        try:
            Fernet(key.encode())
        except ValueError as exc:
            raise InvalidField("DBPLANE_SECRET_KEY is not a Fernet key (32 url-safe base64 "
                               "bytes)", field="DBPLANE_SECRET_KEY") from exc
        return key.encode()
    if key_file.exists():
        return key_file.read_bytes().strip()
    key_file.parent.mkdir(parents=True, exist_ok=True)
    new = Fernet.generate_key()
    # O_EXCL: two processes starting at once must not both write a key
    try:
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return key_file.read_bytes().strip()
    with os.fdopen(fd, "wb") as fh:
        fh.write(new)
        fh.flush()
        os.fsync(fh.fileno())
    return new


class SecretBox:
    """Encrypts and decrypts short secrets such as connection URLs."""

    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    def encrypt(self, plain: str) -> str:
        return self._fernet.encrypt(plain.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise DbplaneError("a stored connection secret cannot be decrypted with this "
                               "key: is DBPLANE_SECRET_KEY the one it was stored with?") from exc
