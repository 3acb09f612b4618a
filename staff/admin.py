"""The staff records in the admin, for looking only: the view log is append-only and the others
change through the workspace's services."""

from django.contrib import admin

from .models import CaseActivity, UrgentRealert


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(CaseActivity)
class CaseActivityAdmin(ReadOnlyAdmin):
    # The text is a coordinator's own words about a person: left out of the list on purpose.
    list_display = ["occurred_at", "referral", "kind", "actor"]
    list_filter = ["kind"]
    exclude = ["text"]


@admin.register(UrgentRealert)
class UrgentRealertAdmin(ReadOnlyAdmin):
    list_display = ["referral", "times_sent", "last_sent_at"]
