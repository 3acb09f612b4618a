"""The staff stopgap until the coordinator workspace: programs, places and cases.

Cases are found by their reference code only; lists show no names or contact details. Status
and priority are read-only here because they change only through the state machine, and
history (events, triage decisions) is never edited.
"""

from django.contrib import admin
from django.db import models

from .models import District, Episode, Facility, Program, Referral, ReferralEvent, TriageAssessment


class ReadOnlyAdmin(admin.ModelAdmin):
    """A record of what happened: visible to staff, changed by nobody."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Program)
class ProgramAdmin(admin.ModelAdmin):
    # A web address typed without a scheme is taken as https (Django 6's default).
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    list_display = [
        "name",
        "code",
        "provider_role",
        "session_limit",
        "is_bookable",
        "offers_urgent_consult",
        "display_order",
    ]
    list_filter = ["is_bookable", "provider_role"]
    search_fields = ["name", "code"]
    readonly_fields = ["is_crisis_service"]


class FacilityInline(admin.TabularInline):
    model = Facility
    extra = 0


@admin.register(District)
class DistrictAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "state", "kind", "eap_phone"]
    list_filter = ["state", "kind"]
    search_fields = ["name", "code"]
    inlines = [FacilityInline]


@admin.register(Facility)
class FacilityAdmin(admin.ModelAdmin):
    list_display = ["name", "district"]
    list_filter = ["district__state"]
    list_select_related = ["district"]
    search_fields = ["name", "district__name"]
    autocomplete_fields = ["district"]


@admin.register(Episode)
class EpisodeAdmin(ReadOnlyAdmin):
    # Session limits change through the override service, which asks for a reason.
    list_display = ["pk", "program", "session_limit", "opened_at", "closed_at"]
    list_filter = ["program", ("closed_at", admin.EmptyFieldListFilter)]
    list_select_related = ["program"]
    search_fields = ["referrals__reference"]


class ReferralEventInline(ReadOnlyInline):
    model = ReferralEvent
    fields = ["occurred_at", "from_status", "to_status", "actor_label", "actor", "reason"]
    readonly_fields = fields


class TriageAssessmentInline(admin.StackedInline):
    model = TriageAssessment
    can_delete = False
    readonly_fields = ["outcome", "rule_version", "rule_fired", "k10_score", "answers"]
    fields = readonly_fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Referral)
class ReferralAdmin(admin.ModelAdmin):
    list_display = ["reference", "program", "status", "priority", "source", "submitted_at"]
    list_filter = ["status", "priority", "program", "source", "state"]
    list_select_related = ["program"]
    search_fields = ["reference"]
    date_hierarchy = "submitted_at"
    readonly_fields = [
        "reference",
        "status",
        "priority",
        "episode",
        "submitted_at",
        "updated_at",
        "consented_at",
        "collection_notice_version",
        "urgent_acknowledged_at",
        "urgent_acknowledged_by",
        "match_requested_at",
    ]
    raw_id_fields = ["intake_by"]
    autocomplete_fields = ["employer_district", "workplace_district"]
    inlines = [TriageAssessmentInline, ReferralEventInline]

    def has_add_permission(self, request) -> bool:
        # Cases start in the wizard (or phone intake), which triages them.
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        # Deletion follows the person's request and the retention schedule, not a button.
        return False


@admin.register(ReferralEvent)
class ReferralEventAdmin(ReadOnlyAdmin):
    list_display = ["referral", "from_status", "to_status", "actor_label", "occurred_at"]
    list_filter = ["to_status", "actor_label"]
    list_select_related = ["referral"]
    search_fields = ["referral__reference"]
    date_hierarchy = "occurred_at"


@admin.register(TriageAssessment)
class TriageAssessmentAdmin(ReadOnlyAdmin):
    list_display = ["referral", "outcome", "rule_version", "rule_fired", "assessed_at"]
    list_filter = ["outcome", "rule_version", "rule_fired"]
    list_select_related = ["referral"]
    search_fields = ["referral__reference"]
