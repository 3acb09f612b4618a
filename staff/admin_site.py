"""The admin site behind two-factor sign-in.

The admin has no sign-in form of its own. Every admin page checks, in order: signed in (else the
staff sign-in, coming back afterwards), second factor verified (else the code step), and admin
rights (else the staff 403 page rather than a loop back to a sign-in the person has done).
"""

from functools import update_wrapper

from django.contrib import admin
from django.http import HttpRequest, HttpResponse

from . import access


class StaffAdminSite(admin.AdminSite):
    site_header = "Sounding Board administration"
    site_title = "Sounding Board admin"

    def has_permission(self, request: HttpRequest) -> bool:
        user = request.user
        return bool(user.is_active and user.is_staff and user.is_verified())

    def admin_view(self, view, cacheable=False):
        inner = super().admin_view(view, cacheable)

        def guarded(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            refusal = self._refusal(request)
            return refusal if refusal is not None else inner(request, *args, **kwargs)

        return update_wrapper(guarded, inner)

    def login(self, request: HttpRequest, extra_context=None) -> HttpResponse:
        target = request.GET.get("next")
        return self._refusal(request, target) or access.redirect_to_sign_in(request, target)

    def _refusal(self, request: HttpRequest, target: str | None = None) -> HttpResponse | None:
        user = request.user
        if not user.is_authenticated:
            return access.redirect_to_sign_in(request, target)
        if not user.is_verified():
            return access.redirect_to_second_factor(request)
        if not self.has_permission(request):
            return access.forbidden(request)
        return None
