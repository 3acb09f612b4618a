"""Staff sign-in: password, then a code from an authenticator app (set up on first sign-in) or
a backup code; sign-out; password reset that still asks for the second factor."""

from urllib.parse import urlencode

from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.auth.signals import user_login_failed
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.views.decorators.http import require_POST

from .. import access
from ..forms.auth import (
    CodeForm,
    EnrolmentCodeForm,
    SignInForm,
    StaffPasswordResetForm,
    StaffSetPasswordForm,
)
from ..services import two_factor
from ..sign_in import (
    password_accepted,
    pending_clear,
    pending_user,
    safe_next,
    sign_in_complete,
)

WRONG_CODE = (
    "That code did not work. Codes change every 30 seconds: type the one your app shows now, "
    "check your phone's clock is set automatically, or use a backup code."
)


def _home() -> str:
    return reverse("staff:home")


def _with_next(name: str, target: str) -> str:
    return f"{reverse(name)}?{urlencode({'next': target})}"


def sign_in(request: HttpRequest) -> HttpResponse:
    target = safe_next(request, _home())
    if access.is_verified(request.user):
        return redirect(target)
    if request.method == "GET" and pending_user(request) is not None:
        return redirect(_with_next("staff:verify", target))
    form = SignInForm(request, data=request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        password_accepted(request, form.get_user())
        return redirect(_with_next("staff:verify", target))
    return render(request, "staff/sign_in.html", {"form": form, "next": target})


def verify(request: HttpRequest) -> HttpResponse:
    target = safe_next(request, _home())
    user = pending_user(request)
    if user is None:
        return redirect(_with_next("staff:sign_in", target))
    if access.is_verified(request.user):
        return redirect(target)
    if not two_factor.has_second_factor(user):
        return redirect(_with_next("staff:enrol", target))
    if _is_locked(request, user):
        return _lock_out(request)
    form = CodeForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        device = two_factor.second_factor_verify(user=user, token=form.cleaned_data["token"])
        if device is not None:
            sign_in_complete(request, user, device)
            return redirect(target)
        if _count_failure(request, user):
            return _lock_out(request)
        form.add_error("token", WRONG_CODE)
    return render(request, "staff/verify.html", {"form": form, "next": target})


def enrol(request: HttpRequest) -> HttpResponse:
    """First sign-in: add the account to an authenticator app, prove it with a code, and take
    away a set of backup codes (shown once)."""
    target = safe_next(request, _home())
    user = pending_user(request)
    if user is None:
        return redirect(_with_next("staff:sign_in", target))
    if access.is_verified(request.user):
        return redirect(target)
    if two_factor.has_second_factor(user):
        return redirect(_with_next("staff:verify", target))
    if _is_locked(request, user):
        return _lock_out(request)
    device = two_factor.totp_enrolment_device(user=user)
    form = EnrolmentCodeForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        result = two_factor.totp_enrolment_confirm(
            user=user, device_id=device.pk, token=form.cleaned_data["token"]
        )
        if result is not None:
            device, codes = result
            sign_in_complete(request, user, device)
            return render(
                request, "staff/backup_codes.html", {"codes": codes, "next": target, "first": True}
            )
        if _count_failure(request, user):
            return _lock_out(request)
        form.add_error("token", WRONG_CODE)
    context = {
        "form": form,
        "next": target,
        "qr_svg": two_factor.totp_qr_svg(device),
        "key_for_typing": two_factor.totp_key_for_typing(device),
    }
    return render(request, "staff/enrol.html", context)


@access.verified_required
def backup_codes(request: HttpRequest) -> HttpResponse:
    """See how many backup codes are left; POST replaces them with a new set, shown once."""
    if request.method == "POST":
        codes = two_factor.backup_codes_replace(user=request.user)
        return render(request, "staff/backup_codes.html", {"codes": codes, "next": _home()})
    remaining = two_factor.backup_codes_remaining(user=request.user)
    return render(request, "staff/backup_codes_manage.html", {"remaining": remaining})


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    logout(request)
    messages.info(request, "You have signed out.")
    return redirect("staff:sign_in")


def locked_out(request: HttpRequest, original_response=None, credentials=None) -> HttpResponse:
    """The page django-axes shows during a lock-out (AXES_LOCKOUT_CALLABLE)."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return render(request, "staff/locked_out.html", {"minutes": minutes}, status=429)


def _credentials(user: AbstractBaseUser) -> dict:
    return {settings.AXES_USERNAME_FORM_FIELD: user.get_username()}


def _is_locked(request: HttpRequest, user: AbstractBaseUser) -> bool:
    return AxesProxyHandler.is_locked(request, _credentials(user))


def _count_failure(request: HttpRequest, user: AbstractBaseUser) -> bool:
    """Count a wrong code like a wrong password; True when that locks the person out."""
    user_login_failed.send(sender=__name__, credentials=_credentials(user), request=request)
    return bool(getattr(request, "axes_locked_out", False))


def _lock_out(request: HttpRequest) -> HttpResponse:
    pending_clear(request)
    if request.user.is_authenticated:
        logout(request)
    return locked_out(request)


class PasswordResetView(auth_views.PasswordResetView):
    form_class = StaffPasswordResetForm
    template_name = "staff/password_reset.html"
    email_template_name = "staff/email/password_reset.txt"
    subject_template_name = "staff/email/password_reset_subject.txt"
    success_url = reverse_lazy("staff:password_reset_sent")


class PasswordResetSentView(auth_views.PasswordResetDoneView):
    template_name = "staff/password_reset_sent.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """Set a new password from a reset link. Anyone with a second factor must give a code too,
    counted towards the lock-out like any other; the person is not signed in afterwards."""

    form_class = StaffSetPasswordForm
    template_name = "staff/password_reset_confirm.html"
    success_url = reverse_lazy("staff:password_reset_done")
    post_reset_login = False

    def get_form_kwargs(self):
        kwargs = super().get_form_kwargs()
        kwargs["needs_code"] = two_factor.has_second_factor(self.user)
        return kwargs

    def form_valid(self, form):
        if "token" in form.fields:
            if _is_locked(self.request, self.user):
                return locked_out(self.request)
            device = two_factor.second_factor_verify(
                user=self.user, token=form.cleaned_data["token"]
            )
            if device is None:
                if _count_failure(self.request, self.user):
                    return locked_out(self.request)
                form.add_error("token", WRONG_CODE)
                return self.form_invalid(form)
        return super().form_valid(form)


class PasswordResetDoneView(auth_views.PasswordResetCompleteView):
    template_name = "staff/password_reset_done.html"
