"""Forms for staff sign-in, second factors and password reset."""

from django import forms
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm, SetPasswordForm

from .. import access


class SignInForm(AuthenticationForm):
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "That username and password do not match an active staff account.",
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["username"].widget.attrs.pop("autofocus", None)


class CodeForm(forms.Form):
    token = forms.CharField(
        label="Code",
        max_length=32,
        help_text="The 6-digit code your authenticator app shows now, or one of your backup codes.",
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "spellcheck": "false", "autocapitalize": "off"}
        ),
    )


class EnrolmentCodeForm(CodeForm):
    token = forms.CharField(
        label="Code from your app",
        max_length=12,
        help_text="After adding the account, type the 6-digit code the app shows.",
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "spellcheck": "false"}
        ),
    )


class StaffPasswordResetForm(PasswordResetForm):
    """Sends a reset link only to active members of a staff group; the page says the same
    thing whether or not the address matched."""

    def get_users(self, email):
        return (
            user
            for user in super().get_users(email)
            if user.groups.filter(name__in=access.STAFF_GROUPS).exists()
        )


class StaffSetPasswordForm(SetPasswordForm):
    """A new password after a reset link; someone with a second factor must also give a code,
    so a reset never gets round two-factor sign-in."""

    token = forms.CharField(
        label="Code",
        max_length=32,
        help_text="The 6-digit code your authenticator app shows now, or one of your backup codes.",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "spellcheck": "false"}),
    )

    def __init__(self, user, *args, needs_code: bool, **kwargs):
        super().__init__(user, *args, **kwargs)
        if not needs_code:
            del self.fields["token"]
