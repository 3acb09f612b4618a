from django.contrib import admin, messages

from . import services
from .models import InboundMessage, InboundReply, OutboundMessage


@admin.register(OutboundMessage)
class OutboundMessageAdmin(admin.ModelAdmin):
    list_display = ("pk", "kind", "status", "attempts", "ical_sequence", "created_at")
    list_filter = ("status", "kind")
    search_fields = ("=referral__reference", "=appointment__id", "=ical_uid")
    readonly_fields = [f.name for f in OutboundMessage._meta.fields]
    actions = ["resend"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Re-send the selected messages (as new copies)")
    def resend(self, request, queryset):
        for message in queryset:
            services.message_resend(message_id=message.pk)
        self.message_user(request, f"{queryset.count()} queued again.", messages.SUCCESS)


class InboundReplyInline(admin.TabularInline):
    model = InboundReply
    extra = 0
    can_delete = False
    readonly_fields = [f.name for f in InboundReply._meta.fields]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(InboundMessage)
class InboundMessageAdmin(admin.ModelAdmin):
    list_display = ("pk", "source", "problem", "received_at", "applied_at")
    list_filter = ("source",)
    exclude = ("raw",)
    readonly_fields = ("source", "digest", "message_id", "problem", "received_at", "applied_at")
    inlines = [InboundReplyInline]

    def has_add_permission(self, request):
        return False


@admin.register(InboundReply)
class InboundReplyAdmin(admin.ModelAdmin):
    list_display = ("pk", "outcome", "partstat", "sequence", "appointment", "created_at")
    list_filter = ("outcome",)
    readonly_fields = [f.name for f in InboundReply._meta.fields]

    def has_add_permission(self, request):
        return False
