"""Idle and absolute limits on signed-in sessions, and an end to sessions of disabled accounts.

Every account is a staff account (referrers have none), so the limits apply to every signed-in
session. A session whose account has been disabled, deleted or had its password changed no
longer resolves to a user; it is flushed so nothing of it stays behind.
"""

import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import SESSION_KEY, logout
from django.http import HttpRequest, HttpResponse

SIGNED_IN_AT = "staff_signed_in_at"
LAST_SEEN_AT = "staff_last_seen_at"
# Saving the session on every request would cost a write each time; a minute's precision is
# plenty for an idle limit counted in tens of minutes.
TOUCH_EVERY_SECONDS = 60


def staff_session_start(request: HttpRequest) -> None:
    """Stamp a freshly signed-in session with its start, for the absolute and idle limits."""
    now = int(time.time())
    request.session[SIGNED_IN_AT] = now
    request.session[LAST_SEEN_AT] = now


class StaffSessionMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if SESSION_KEY in request.session:
            self._enforce_limits(request)
        return self.get_response(request)

    def _enforce_limits(self, request: HttpRequest) -> None:
        if not request.user.is_authenticated:
            request.session.flush()
            messages.info(request, "Your session has ended. Please sign in again.")
            return
        now = int(time.time())
        signed_in_at = request.session.setdefault(SIGNED_IN_AT, now)
        last_seen_at = request.session.get(LAST_SEEN_AT, signed_in_at)
        if now - signed_in_at > settings.STAFF_SESSION_ABSOLUTE_HOURS * 3600:
            self._end(request, "You were signed out because your session reached its time limit.")
        elif now - last_seen_at > settings.STAFF_SESSION_IDLE_MINUTES * 60:
            self._end(request, "You were signed out after a period without activity.")
        elif now - last_seen_at >= TOUCH_EVERY_SECONDS:
            request.session[LAST_SEEN_AT] = now

    @staticmethod
    def _end(request: HttpRequest, message: str) -> None:
        logout(request)
        messages.info(request, f"{message} Please sign in again.")
