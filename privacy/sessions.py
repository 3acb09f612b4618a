"""A database session engine whose stored data is encrypted (SESSION_ENGINE = "privacy.sessions").

The wizard keeps a person's unfinished answers in their session; Django's own engine stores them
signed but readable in django_session. Here they are encrypted with FIELD_ENCRYPTION_KEYS.
"""

from django.contrib.sessions.backends.base import UpdateError
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.db import router

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
    def save(self, must_create: bool = False) -> None:
        """As Django's engine saves, but a changed session is one UPDATE with no transaction or
        savepoint around it: one statement needs none, and the wizard saves the session on
        every step (on the last, inside the referral's transaction). A session gone meanwhile
        (signed out elsewhere, cleared) raises UpdateError, as Django's engine does."""
        if must_create or self.session_key is None:
            return super().save(must_create=must_create)
        stored = self.create_model_instance(self._get_session())
        using = router.db_for_write(self.model, instance=stored)
        updated = (
            self.model.objects.using(using)
            .filter(session_key=stored.session_key)
            .update(session_data=stored.session_data, expire_date=stored.expire_date)
        )
        if not updated:
            raise UpdateError
