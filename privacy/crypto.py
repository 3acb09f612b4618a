"""Authenticated encryption of values at rest with the keys in FIELD_ENCRYPTION_KEYS.

Fernet (AES-128-CBC with HMAC-SHA256, from the `cryptography` package) is used through
MultiFernet: the first key encrypts, every key decrypts, so a new key can be put first and old
rows re-encrypted at leisure (`manage.py reencrypt_fields`). A value that no key can open raises
DecryptionError; ciphertext is never handed back as if it were data.

This module imports no models: every app may use it.
"""

import functools

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class DecryptionError(Exception):
    """A stored value could not be decrypted with any configured key."""


def _fernet_from(key: str, position: int) -> Fernet:
    try:
        return Fernet(key)
    except (ValueError, TypeError) as error:
        # The key itself is never echoed: error messages end up in logs.
        raise ImproperlyConfigured(
            f"FIELD_ENCRYPTION_KEYS[{position}] is not a Fernet key (32 url-safe base64 bytes)"
        ) from error


@functools.lru_cache(maxsize=8)
def _keyring(keys: tuple[str, ...]) -> tuple[MultiFernet, Fernet]:
    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS is empty: encrypted fields need a key")
    fernets = [_fernet_from(key, position) for position, key in enumerate(keys)]
    return MultiFernet(fernets), fernets[0]


def _configured_keyring() -> tuple[MultiFernet, Fernet]:
    return _keyring(tuple(settings.FIELD_ENCRYPTION_KEYS))


def keys_check(keys: list[str]) -> None:
    """Raise ImproperlyConfigured unless `keys` is a non-empty list of valid Fernet keys."""
    _keyring(tuple(keys))


def encrypt_text(plaintext: str) -> str:
    """Encrypt `plaintext` with the current (first) key; the token is ASCII text."""
    multi, _ = _configured_keyring()
    return multi.encrypt(plaintext.encode("utf-8")).decode("ascii")


def decrypt_text(token: str) -> str:
    """Decrypt a token written by encrypt_text with any configured key.

    Raises DecryptionError when no key opens it: a wrong or missing key, altered data, or a
    value that was never encrypted.
    """
    multi, _ = _configured_keyring()
    try:
        return multi.decrypt(token.encode("ascii")).decode("utf-8")
    except (InvalidToken, UnicodeError) as error:
        raise DecryptionError(
            "no key in FIELD_ENCRYPTION_KEYS decrypts this value "
            "(wrong key, altered data, or a value stored unencrypted)"
        ) from error


def is_current(token: str) -> bool:
    """True when `token` was encrypted with the current (first) key."""
    _, current = _configured_keyring()
    try:
        current.decrypt(token.encode("ascii"))
    except (InvalidToken, UnicodeError):
        return False
    return True


def rotate_token(token: str) -> str:
    """Re-encrypt a token with the current key; raises DecryptionError when no key opens it."""
    multi, _ = _configured_keyring()
    try:
        return multi.rotate(token.encode("ascii")).decode("ascii")
    except (InvalidToken, UnicodeError) as error:
        raise DecryptionError("no key in FIELD_ENCRYPTION_KEYS decrypts this value") from error
