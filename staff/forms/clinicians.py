"""Forms for clinicians' accounts, profiles, weekly availability and leave."""

import datetime as dt
from zoneinfo import ZoneInfo

from django import forms
from django.contrib.auth import get_user_model

from referrals.models import District, Facility, Program, ProviderRole
from scheduling.availability import WeeklyRule
from scheduling.models import AvailabilityRule, Clinician

TIME_ZONES = [
    ("Australia/Sydney", "Sydney, Canberra, Melbourne, Hobart"),
    ("Australia/Brisbane", "Brisbane"),
    ("Australia/Adelaide", "Adelaide"),
    ("Australia/Darwin", "Darwin"),
    ("Australia/Perth", "Perth"),
    ("Australia/Lord_Howe", "Lord Howe Island"),
]


class AccountForm(forms.ModelForm):
    class Meta:
        model = get_user_model()
        fields = ["username", "first_name", "last_name", "email"]
        help_texts = {"username": "What they will type to sign in."}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["email"].required = True
        self.fields["email"].help_text = "Where the link to choose a password is sent."


class ClinicianForm(forms.ModelForm):
    roles = forms.MultipleChoiceField(
        choices=ProviderRole.choices, widget=forms.CheckboxSelectMultiple
    )
    programs = forms.ModelMultipleChoiceField(
        Program.objects.all(), required=False, widget=forms.CheckboxSelectMultiple
    )
    districts = forms.ModelMultipleChoiceField(
        District.objects.all(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Where they work: never matched with a referrer from these.",
    )
    facilities = forms.ModelMultipleChoiceField(
        Facility.objects.select_related("district"),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 8}),
        help_text="Hospitals they work at, if any.",
    )
    time_zone = forms.ChoiceField(choices=TIME_ZONES)
    video_link = forms.URLField(
        required=False, assume_scheme="https", help_text="Where video sessions are held."
    )

    class Meta:
        model = Clinician
        fields = [
            "display_name",
            "roles",
            "programs",
            "districts",
            "facilities",
            "specialty",
            "gender",
            "offers_phone",
            "offers_video",
            "video_link",
            "time_zone",
            "holiday_state",
            "weekly_capacity",
            "calendar_email",
            "registration_body",
            "registration_number",
            "is_on_duty",
        ]
        help_texts = {
            "weekly_capacity": "The most sessions they take in one week.",
            "calendar_email": "Invitations go here, to accept or decline in their own calendar.",
        }


class AvailabilityRuleForm(forms.ModelForm):
    class Meta:
        model = AvailabilityRule
        fields = ["weekday", "starts_at_time", "ends_at_time", "valid_from_on", "valid_until_on"]
        labels = {
            "starts_at_time": "From",
            "ends_at_time": "Until",
            "valid_from_on": "Starting on",
            "valid_until_on": "Ending on",
        }
        help_texts = {"valid_until_on": "Leave empty to keep it going."}
        widgets = {
            "starts_at_time": forms.TimeInput(attrs={"type": "time"}),
            "ends_at_time": forms.TimeInput(attrs={"type": "time"}),
            "valid_from_on": forms.DateInput(attrs={"type": "date"}),
            "valid_until_on": forms.DateInput(attrs={"type": "date"}),
        }

    def clean(self):
        data = super().clean()
        starts, ends = data.get("starts_at_time"), data.get("ends_at_time")
        if starts and ends and ends <= starts:
            self.add_error("ends_at_time", "The end must be after the start.")
        valid_from, valid_until = data.get("valid_from_on"), data.get("valid_until_on")
        if valid_from and valid_until and valid_until < valid_from:
            self.add_error("valid_until_on", "The last day must not be before the first.")
        return data

    def window(self) -> WeeklyRule:
        data = self.cleaned_data
        return WeeklyRule(
            data["weekday"],
            data["starts_at_time"],
            data["ends_at_time"],
            data["valid_from_on"],
            data["valid_until_on"],
        )


class TimeOffForm(forms.Form):
    """Leave in the clinician's own time zone, from the start of one day to the end of another
    unless times are given."""

    starts_on = forms.DateField(label="First day", widget=forms.DateInput(attrs={"type": "date"}))
    starts_at_time = forms.TimeField(
        label="From (optional)",
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}),
    )
    ends_on = forms.DateField(label="Last day", widget=forms.DateInput(attrs={"type": "date"}))
    ends_at_time = forms.TimeField(
        label="Until (optional)",
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}),
    )
    note = forms.CharField(label="Note", required=False, max_length=120)

    def __init__(self, *args, time_zone: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.zone = ZoneInfo(time_zone)

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        starts_at = dt.datetime.combine(
            data["starts_on"], data.get("starts_at_time") or dt.time(0), tzinfo=self.zone
        )
        if data.get("ends_at_time"):
            ends_at = dt.datetime.combine(data["ends_on"], data["ends_at_time"], tzinfo=self.zone)
        else:
            next_day = data["ends_on"] + dt.timedelta(days=1)
            ends_at = dt.datetime.combine(next_day, dt.time(0), tzinfo=self.zone)
        if ends_at <= starts_at:
            self.add_error("ends_on", "The leave must end after it starts.")
        data["starts_at"], data["ends_at"] = starts_at, ends_at
        return data


class DeactivateForm(forms.Form):
    disable_sign_in = forms.BooleanField(
        label="Also stop them signing in (ends any session they have open)", required=False
    )


class ReactivateForm(forms.Form):
    enable_sign_in = forms.BooleanField(label="Let them sign in again", required=False)


class CapacityForm(forms.Form):
    weekly_capacity = forms.IntegerField(
        label="Most sessions in one week",
        min_value=0,
        help_text="New sessions are offered only in weeks below this; booked ones always stay.",
    )


class RespondForm(forms.Form):
    """A clinician's answer to a proposed session, from their portal."""

    response = forms.ChoiceField(
        choices=[("accepted", "Accept"), ("tentative", "Tentative"), ("declined", "Decline")]
    )
