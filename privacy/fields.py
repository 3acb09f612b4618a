"""Model fields whose values are encrypted at rest (see privacy.crypto).

The database column holds a Fernet token in a text column; Python code sees the original value.
Ciphertext is randomised, so the database cannot compare or search these values: any lookup other
than `isnull` raises FieldError instead of silently matching nothing.
"""

import base64
import json
from typing import Any

from django import forms
from django.db import models

from .crypto import DecryptionError, decrypt_text, encrypt_text


class _EncryptedMixin:
    """Encryption on the way in, decryption on the way out, and no content lookups."""

    def get_lookup(self, lookup_name: str):
        if lookup_name != "isnull":
            return None
        return super().get_lookup(lookup_name)

    def get_transform(self, lookup_name: str):
        return None

    def _decrypt(self, token: str) -> str:
        try:
            return decrypt_text(token)
        except DecryptionError as error:
            raise DecryptionError(f"{self.model._meta.label}.{self.name}: {error}") from error


class EncryptedTextField(_EncryptedMixin, models.TextField):
    """Free text, encrypted. None stays None and "" stays ""."""

    def get_prep_value(self, value: Any) -> str | None:
        value = super().get_prep_value(value)
        if value is None:
            return None
        return encrypt_text(str(value))

    def from_db_value(self, value: str | None, expression, connection) -> str | None:
        if value is None:
            return None
        return self._decrypt(value)


class EncryptedJSONField(_EncryptedMixin, models.Field):
    """A JSON value (such as triage answers), encrypted as its JSON text in a text column.

    Every JSON value survives a round trip, falsy ones included. None is stored as SQL NULL when
    the field is nullable and as an encrypted JSON null otherwise; either way it reads as None.
    """

    empty_strings_allowed = False
    description = "A JSON value, encrypted at rest"

    def get_internal_type(self) -> str:
        return "TextField"

    def get_prep_value(self, value: Any) -> str | None:
        if value is None and self.null:
            return None
        return encrypt_text(json.dumps(value, ensure_ascii=False))

    def from_db_value(self, value: str | None, expression, connection) -> Any:
        if value is None:
            return None
        return json.loads(self._decrypt(value))

    def to_python(self, value: Any) -> Any:
        return value

    def value_to_string(self, obj: models.Model) -> Any:
        return self.value_from_object(obj)

    def formfield(self, **kwargs) -> forms.Field:
        return super().formfield(**{"form_class": forms.JSONField, **kwargs})


class EncryptedBinaryField(_EncryptedMixin, models.Field):
    """Bytes (such as a raw email), encrypted in a text column. None stays None, b"" stays b""."""

    empty_strings_allowed = False
    description = "Bytes, encrypted at rest"

    def get_internal_type(self) -> str:
        return "TextField"

    def get_prep_value(self, value: bytes | memoryview | None) -> str | None:
        if value is None:
            return None
        return encrypt_text(base64.b64encode(bytes(value)).decode("ascii"))

    def from_db_value(self, value: str | None, expression, connection) -> bytes | None:
        if value is None:
            return None
        return base64.b64decode(self._decrypt(value))

    def to_python(self, value: Any) -> Any:
        return value
