"""A database session engine whose stored data is encrypted (SESSION_ENGINE = "privacy.sessions").

The wizard keeps a person's unfinished answers in their session; Django's own engine stores them
signed but readable in django_session. Here they are encrypted with FIELD_ENCRYPTION_KEYS.
"""

from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore

from .crypto import DecryptionError, decrypt_text, encrypt_text


class EncryptedSessionMixin:
    """Encrypts what a session backend stores; mix in before any session backend."""

    def encode(self, session_dict: dict) -> str:
        return encrypt_text(super().encode(session_dict))

    def decode(self, session_data: str) -> dict:
        try:
            return super().decode(decrypt_text(session_data))
        except DecryptionError:
            # Like a bad signature in Django's own engine: the session starts empty.
            return {}


class SessionStore(EncryptedSessionMixin, DatabaseSessionStore):
    pass
