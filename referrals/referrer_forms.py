"""Forms on the referrer's own page and the "send me my link again" page."""

from django import forms

from .forms import StepForm


class SelfServiceForm(forms.Form):
    """A form with the wizard's error summary, so its pages read the same way."""

    non_field_anchor = "main"
    summary_title = "There is a problem"
    error_summary = StepForm.error_summary


class LinkRequestForm(SelfServiceForm):
    email = forms.EmailField(
        label="Your email address",
        help_text="The address you gave when you asked for help.",
        max_length=254,
        error_messages={
            "required": "Enter your email address.",
            "invalid": "Enter an email address like name@example.com.",
        },
        widget=forms.EmailInput(attrs={"autocomplete": "email", "spellcheck": "false"}),
    )


class MoveForm(SelfServiceForm):
    """The new time, one of those offered on the page (the service checks it again)."""

    slot = forms.TypedChoiceField(
        label="New time",
        coerce=int,
        widget=forms.RadioSelect,
        error_messages={
            "required": "Choose a new time.",
            "invalid_choice": "That time is no longer offered. Choose another.",
        },
    )

    def __init__(self, *args, slot_choices: list[tuple[int, str]], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["slot"].choices = slot_choices
