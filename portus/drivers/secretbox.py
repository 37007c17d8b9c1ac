"""Encryption at rest for stored secrets: Fernet with a key that never enters the database.

The key comes from the ``secret_key`` setting (``PORTUS_SECRET_KEY``: a Fernet key, or several
comma-separated: the first encrypts, all decrypt, so keys can be rotated), else from
``<state_dir>/secret.key``, created with mode 0600 on first use. A stolen database alone
therefore reveals no private key.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

KEY_FILE = "secret.key"


class SecretBoxError(Exception):
    """A payload that this key cannot decrypt (wrong or rotated-away key, corruption)."""


class SecretBox:
    def __init__(self, keys: list[bytes]) -> None:
        if not keys:
            raise ValueError("at least one key is needed")
        self._fernet = MultiFernet([Fernet(k) for k in keys])

    def encrypt(self, plain: bytes) -> bytes:
        return self._fernet.encrypt(plain)

    def decrypt(self, token: bytes) -> bytes:
        try:
            return self._fernet.decrypt(token)
        except InvalidToken as exc:
            raise SecretBoxError(
                "secret payload cannot be decrypted with the configured key"
            ) from exc


def _key_file(state_dir: Path) -> bytes:
    path = state_dir / KEY_FILE
    if not path.exists():
        state_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, Fernet.generate_key())
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)
    return path.read_bytes().strip()


_CACHE: dict[tuple[str, str], SecretBox] = {}


def for_state_dir(state_dir: Path, secret_key: str | None = None) -> SecretBox:
    """The box for this deployment (configured keys win over the key file); cached per
    process, so the key file is read once."""
    raw = secret_key or ""
    cache_key = (str(state_dir), raw)
    box = _CACHE.get(cache_key)
    if box is None:
        keys = [k.strip().encode() for k in raw.split(",") if k.strip()]
        box = SecretBox(keys or [_key_file(state_dir)])
        _CACHE[cache_key] = box
    return box
