"""The staff stopgap until the coordinator workspace: clinicians, availability, slots, sessions.

Availability is edited here and its slots follow on commit. Slots, appointments and their
history are read-only: slots come from the rules, and appointments change only through the
scheduling services (proposals, replies, cancellations).
"""

from zoneinfo import available_timezones

from django import forms
from django.contrib import admin, messages
from django.db import models
from django.db.models import QuerySet

from referrals.admin import ReadOnlyAdmin, ReadOnlyInline
from referrals.models import ProviderRole

from .models import (
    Appointment,
    AppointmentEvent,
    AvailabilityRule,
    Clinician,
    ClinicianWeek,
    Slot,
    TimeOff,
)
from .tasks import slots_materialise_for_clinician

TIME_ZONE_CHOICES = [(name, name) for name in sorted(available_timezones())]


def rematerialise_on_commit(clinician_ids) -> None:
    for clinician_id in sorted(set(clinician_ids)):
        slots_materialise_for_clinician.delay_on_commit(clinician_id)


class ClinicianAdminForm(forms.ModelForm):
    roles = forms.MultipleChoiceField(
        choices=ProviderRole.choices, widget=forms.CheckboxSelectMultiple
    )
    time_zone = forms.ChoiceField(choices=TIME_ZONE_CHOICES, initial="Australia/Sydney")

    class Meta:
        model = Clinician
        fields = ["roles", "time_zone"]


class AvailabilityRuleInline(admin.TabularInline):
    model = AvailabilityRule
    extra = 0


class TimeOffInline(admin.TabularInline):
    model = TimeOff
    extra = 0


@admin.register(Clinician)
class ClinicianAdmin(admin.ModelAdmin):
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    form = ClinicianAdminForm
    exclude = ["feed_token"]  # a secret: it opens the clinician's calendar feed
    list_display = [
        "display_name",
        "role_names",
        "holiday_state",
        "weekly_capacity",
        "is_active",
        "is_on_duty",
    ]
    list_filter = ["is_active", "is_on_duty", "programs", "holiday_state", "registration_body"]
    search_fields = ["display_name", "user__username", "registration_number"]
    filter_horizontal = ["programs", "districts", "facilities"]
    autocomplete_fields = ["user"]
    inlines = [AvailabilityRuleInline, TimeOffInline]
    actions = ["materialise_slots"]

    @admin.display(description="roles")
    def role_names(self, clinician: Clinician) -> str:
        labels = dict(ProviderRole.choices)
        return ", ".join(labels.get(role, role) for role in clinician.roles)

    def save_related(self, request, form, formsets, change) -> None:
        super().save_related(request, form, formsets, change)
        rematerialise_on_commit([form.instance.pk])

    @admin.action(description="Bring the selected clinicians' slots up to date")
    def materialise_slots(self, request, queryset: QuerySet[Clinician]) -> None:
        ids = list(queryset.values_list("pk", flat=True))
        rematerialise_on_commit(ids)
        self.message_user(request, f"Slots queued for {len(ids)} clinicians.", messages.SUCCESS)


class RematerialisingAdmin(admin.ModelAdmin):
    """Saving or deleting a rule or leave brings that clinician's slots up to date on commit."""

    list_select_related = ["clinician"]
    search_fields = ["clinician__display_name"]
    autocomplete_fields = ["clinician"]

    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)
        rematerialise_on_commit([obj.clinician_id])

    def delete_model(self, request, obj) -> None:
        super().delete_model(request, obj)
        rematerialise_on_commit([obj.clinician_id])

    def delete_queryset(self, request, queryset) -> None:
        clinician_ids = list(queryset.values_list("clinician_id", flat=True))
        super().delete_queryset(request, queryset)
        rematerialise_on_commit(clinician_ids)


@admin.register(AvailabilityRule)
class AvailabilityRuleAdmin(RematerialisingAdmin):
    list_display = [
        "clinician",
        "weekday",
        "starts_at_time",
        "ends_at_time",
        "valid_from_on",
        "valid_until_on",
    ]
    list_filter = ["weekday"]


@admin.register(TimeOff)
class TimeOffAdmin(RematerialisingAdmin):
    list_display = ["clinician", "starts_at", "ends_at"]
    date_hierarchy = "starts_at"


@admin.register(Slot)
class SlotAdmin(ReadOnlyAdmin):
    list_display = ["clinician", "starts_at", "ends_at", "is_offered"]
    list_filter = ["is_offered", "clinician"]
    list_select_related = ["clinician"]
    search_fields = ["clinician__display_name"]
    date_hierarchy = "starts_at"


class AppointmentEventInline(ReadOnlyInline):
    model = AppointmentEvent
    fields = ["occurred_at", "from_status", "to_status", "actor_label", "actor", "reason"]
    readonly_fields = fields


@admin.register(Appointment)
class AppointmentAdmin(ReadOnlyAdmin):
    list_display = [
        "referral",
        "session_number",
        "clinician",
        "starts_at",
        "status",
        "modality",
    ]
    list_filter = ["status", "modality"]
    list_select_related = ["referral", "clinician", "slot"]
    search_fields = ["referral__reference"]
    inlines = [AppointmentEventInline]

    @admin.display(description="starts", ordering="slot__starts_at")
    def starts_at(self, appointment: Appointment):
        return appointment.slot.starts_at


@admin.register(AppointmentEvent)
class AppointmentEventAdmin(ReadOnlyAdmin):
    list_display = ["appointment", "from_status", "to_status", "actor_label", "occurred_at"]
    list_filter = ["to_status", "actor_label"]
    list_select_related = ["appointment__referral"]
    search_fields = ["appointment__referral__reference"]
    date_hierarchy = "occurred_at"


@admin.register(ClinicianWeek)
class ClinicianWeekAdmin(ReadOnlyAdmin):
    """Derived counts, kept by scheduling.services.load and recounted by the sweeper."""

    list_display = ["clinician", "week_start_on", "held"]
    list_select_related = ["clinician"]
    search_fields = ["clinician__display_name"]
    date_hierarchy = "starts_at"
