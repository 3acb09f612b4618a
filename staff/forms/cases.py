"""Forms for the dashboard filters and the actions on a case."""

from django import forms
from django.conf import settings

from referrals.models import District, Program
from referrals.selectors import Catalogue
from scheduling.models import Clinician, Slot

from ..models import CloseOutcome

NOTE_MAX = 4000


def _text(label: str, help_text: str = "", *, required: bool = True) -> forms.CharField:
    return forms.CharField(
        label=label,
        help_text=help_text,
        required=required,
        max_length=NOTE_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class DashboardFilterForm(forms.Form):
    program = forms.ModelChoiceField(
        Program.objects.all(), required=False, to_field_name="code", empty_label="All programs"
    )
    district = forms.ModelChoiceField(
        District.objects.all(), required=False, to_field_name="code", empty_label="All districts"
    )
    reference = forms.CharField(
        label="Reference", required=False, max_length=20, help_text="All or the start of it."
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # The lists from this process's reference data: left to itself, a ModelChoiceField
        # reads its choices through a server-side cursor (three round trips on PostgreSQL) as
        # it renders, on a page coordinators keep open and reload.
        catalogue = Catalogue()
        for name, items in (("program", catalogue.programs), ("district", catalogue.districts)):
            field = self.fields[name]
            field.choices = [
                ("", field.empty_label),
                *((item.code, field.label_from_instance(item)) for item in items),
            ]

    def clean_reference(self) -> str:
        return self.cleaned_data["reference"].strip().upper()


class CaseActionForm(forms.Form):
    """A form on the case page; its own id prefix keeps ids unique among the page's forms."""

    id_prefix = "case"

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", f"{self.id_prefix}-%s")
        super().__init__(*args, **kwargs)


class ConfirmForm(forms.Form):
    """An action that needs no fields, only the button; errors from the service land here."""


class AcknowledgeForm(CaseActionForm):
    id_prefix = "acknowledge"
    note = _text("Your note", "What you have done or will do, for the next coordinator to read.")


class NoteForm(CaseActionForm):
    id_prefix = "note"
    text = _text("Internal note", "Seen by staff only, never by the referrer.")


class LimitForm(CaseActionForm):
    id_prefix = "limit"
    new_limit = forms.IntegerField(
        label="New session limit", min_value=1, max_value=settings.EPISODE_SESSION_LIMIT_MAX
    )
    reason = _text("Reason")


class CancelForm(CaseActionForm):
    id_prefix = "cancel"
    reason = _text("Reason for cancelling", "The clinician is told the session is cancelled.")


class CloseForm(CaseActionForm):
    id_prefix = "close"
    outcome = forms.ChoiceField(label="Outcome", choices=CloseOutcome.choices)
    note = _text("Note", "Optional.", required=False)


class RescheduleForm(forms.Form):
    """The new time, among those the page offers (the service checks it again)."""

    slot = forms.TypedChoiceField(
        label="New time",
        coerce=int,
        widget=forms.RadioSelect,
        error_messages={"required": "Choose a new time."},
    )
    reason = _text("Why the session moves", "Kept in the session's history.")

    def __init__(self, *args, slot_choices: list[tuple[int, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["slot"].choices = slot_choices


class ClinicianChoiceForm(forms.Form):
    clinician = forms.ModelChoiceField(
        Clinician.objects.filter(is_active=True), label="Clinician", empty_label="Choose…"
    )


class AssignForm(forms.Form):
    slot = forms.ModelChoiceField(Slot.objects.none(), label="Time", widget=forms.RadioSelect)
    reason = _text(
        "Why you are assigning this yourself",
        "Required. If the time breaks a rule shown beside it, say why it is right anyway.",
    )
    breaches_seen = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, slots, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["slot"].queryset = slots

    def seen_codes(self) -> frozenset[str]:
        return frozenset(code for code in self.cleaned_data["breaches_seen"].split(",") if code)
