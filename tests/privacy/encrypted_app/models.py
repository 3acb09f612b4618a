"""A model used only by the tests of privacy.fields (installed by config.settings.test).

Until the lead switches the real fields, nothing else in the project stores ciphertext."""

from django.db import models

from privacy.fields import EncryptedBinaryField, EncryptedJSONField, EncryptedTextField


class Note(models.Model):
    text = EncryptedTextField(null=True, blank=True)
    answers = EncryptedJSONField(default=dict)
    optional_answers = EncryptedJSONField(null=True, blank=True)
    raw = EncryptedBinaryField(null=True, blank=True)

    class Meta:
        app_label = "encrypted_app"

    def __str__(self) -> str:
        return f"Note {self.pk}"
