"""Deployment checks for the calendar's organizer mailbox."""

from django.conf import settings
from django.core.checks import Warning, register

# Google sends no reply email to an organizer that is itself a Google Calendar account.
_CALENDAR_PROVIDER_DOMAINS = frozenset({"gmail.com", "googlemail.com"})


@register()
def organizer_mailbox_check(app_configs, **kwargs):
    local, _, domain = settings.CALENDAR_ORGANIZER_EMAIL.rpartition("@")
    problems = []
    if "+" in local:
        problems.append(
            Warning(
                "CALENDAR_ORGANIZER_EMAIL has a +tag; Outlook and Microsoft 365 strip it, so "
                "their replies would not reach the mailbox the system reads.",
                id="notifications.W001",
            )
        )
    if domain.lower() in _CALENDAR_PROVIDER_DOMAINS:
        problems.append(
            Warning(
                "CALENDAR_ORGANIZER_EMAIL is a Google account; Google Calendar then sends no "
                "reply emails. Use a dedicated mailbox the system reads.",
                id="notifications.W002",
            )
        )
    return problems
