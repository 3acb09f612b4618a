from django.apps import AppConfig


class EncryptedAppConfig(AppConfig):
    name = "tests.privacy.encrypted_app"
    label = "encrypted_app"
