from django.apps import AppConfig
from django.db.models.signals import m2m_changed, post_delete, post_save


class SchedulingConfig(AppConfig):
    name = "scheduling"

    def ready(self) -> None:
        from .models import Clinician, Slot
        from .selectors import clinicians_changed, offered_times_changed

        def changed(**_kwargs) -> None:
            clinicians_changed()

        def slot_changed(**_kwargs) -> None:
            offered_times_changed()

        def capacity_copied(instance, raw=False, update_fields=None, **_kwargs) -> None:
            from .services.load import clinician_weeks_capacity_copy

            if raw:  # loading fixtures
                return
            if update_fields is None or "weekly_capacity" in update_fields:
                clinician_weeks_capacity_copy(clinician_ids=[instance.pk])

        for signal in (post_save, post_delete):
            signal.connect(
                changed, sender=Clinician, weak=False, dispatch_uid=f"clinician-{id(signal)}"
            )
            signal.connect(slot_changed, sender=Slot, weak=False, dispatch_uid=f"slot-{id(signal)}")
        post_save.connect(
            capacity_copied, sender=Clinician, weak=False, dispatch_uid="clinician-capacity"
        )
        for links in (Clinician.programs, Clinician.districts, Clinician.facilities):
            m2m_changed.connect(
                changed, sender=links.through, weak=False, dispatch_uid=f"links-{links.field.name}"
            )
