from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class ReferralsConfig(AppConfig):
    name = "referrals"

    def ready(self) -> None:
        # Keeping a cache honest, not business flow: see selectors.reference_data_forget.
        from .models import District, Facility, Program
        from .selectors import reference_data_forget

        for model in (Program, District, Facility):
            post_save.connect(reference_data_forget, sender=model, dispatch_uid=f"ref-{model}")
            post_delete.connect(reference_data_forget, sender=model, dispatch_uid=f"ref-{model}-")
