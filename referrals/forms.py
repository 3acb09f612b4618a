"""One form per step of the self-referral wizard, and the mapping of their answers to a draft.

Every form takes the request's Catalogue (programs, districts, facilities loaded once), carries
a honeypot field, and explains its errors in words a tired person can act on.
"""

import re
from collections.abc import Mapping
from itertools import groupby

import phonenumbers
from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.choices import BaseChoiceIterator, normalize_choices

from . import triage
from .eligibility import Person, eligible_codes, is_eligible
from .models import CareerStage, Program, Reason, Referral, State
from .notices import COLLECTION_NOTICE_VERSION
from .selectors import Catalogue, program_rules
from .services import ReferralDraft
from .windows import PARTS_OF_DAY, WEEKDAY_LABELS, WEEKDAYS

NO_DISTRICT = "none"

TIME_ZONE_CHOICES = (
    ("Australia/Sydney", "New South Wales, ACT (Sydney time)"),
    ("Australia/Melbourne", "Victoria (Melbourne time)"),
    ("Australia/Brisbane", "Queensland (Brisbane time)"),
    ("Australia/Adelaide", "South Australia (Adelaide time)"),
    ("Australia/Broken_Hill", "Broken Hill (South Australian time)"),
    ("Australia/Darwin", "Northern Territory (Darwin time)"),
    ("Australia/Perth", "Western Australia (Perth time)"),
    ("Australia/Hobart", "Tasmania (Hobart time)"),
)
STATE_TIME_ZONES = {
    State.NSW: "Australia/Sydney",
    State.ACT: "Australia/Sydney",
    State.VIC: "Australia/Melbourne",
    State.QLD: "Australia/Brisbane",
    State.SA: "Australia/Adelaide",
    State.NT: "Australia/Darwin",
    State.WA: "Australia/Perth",
    State.TAS: "Australia/Hobart",
}

K10_QUESTIONS = (
    "tired out for no good reason?",
    "nervous?",
    "so nervous that nothing could calm you down?",
    "hopeless?",
    "restless or fidgety?",
    "so restless that you could not sit still?",
    "depressed?",
    "that everything was an effort?",
    "so sad that nothing could cheer you up?",
    "worthless?",
)


class FixedChoices(BaseChoiceIterator):
    """Choices worked out once and never changed, kept in the form Django normalises them to.

    Every form built deep-copies its class's fields, and each choice field and its widget copy
    and normalise a plain list of choices again; the final POST builds a dozen forms. A field
    holding these shares them instead: normalising returns them as they are, and copying them
    returns the same object.
    """

    def __init__(self, choices) -> None:
        self._choices = tuple(normalize_choices(choices))

    def __iter__(self):
        return iter(self._choices)

    def __len__(self) -> int:
        return len(self._choices)

    def __copy__(self) -> "FixedChoices":
        return self

    def __deepcopy__(self, memo) -> "FixedChoices":
        return self


K10_CHOICES = FixedChoices(
    (
        (1, "None of the time"),
        (2, "A little of the time"),
        (3, "Some of the time"),
        (4, "Most of the time"),
        (5, "All of the time"),
    )
)


class StepForm(forms.Form):
    """A wizard step: the request's catalogue, a honeypot, and an error summary."""

    # Where an error about the form as a whole points, and what the summary is headed.
    non_field_anchor = "step-form"
    summary_title = "There is a problem"

    # Hidden from people by CSS (and from screen readers with it); automated form fillers
    # tend to fill every text input they find.
    website = forms.CharField(
        required=False,
        max_length=200,
        label="Leave this field empty",
        widget=forms.TextInput(attrs={"autocomplete": "off", "tabindex": "-1"}),
    )

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        for field in cls.declared_fields.values():
            # A plain list only: lazy choices (a callable, a queryset's) stay lazy.
            if isinstance(field, forms.ChoiceField) and isinstance(field.choices, list | tuple):
                field.choices = FixedChoices(field.choices)

    def __init__(
        self,
        *args,
        catalogue: Catalogue | None = None,
        program: Program | None = None,
        is_intake: bool = False,
        **kwargs,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.catalogue = catalogue or Catalogue()
        self.program = program
        self.is_intake = is_intake

    def clean_website(self) -> str:
        if self.cleaned_data["website"]:
            raise ValidationError("Leave this field empty.", code="honeypot")
        return ""

    def error_summary(self) -> list[tuple[str, str]]:
        """(anchor id, message) for every error, in the order the fields appear."""
        summary = [(self.non_field_anchor, str(message)) for message in self.non_field_errors()]
        for bound in self:
            summary.extend((field_anchor(bound), str(message)) for message in bound.errors)
        return summary


def field_anchor(bound: forms.BoundField) -> str:
    """The id of the input a link to this field should land on (a group's first choice)."""
    return f"{bound.auto_id}_0" if bound.use_fieldset else bound.id_for_label


# Choices built from the catalogue's reference rows, by key, with the rows they were built
# from: built again once the process reads those rows again (referrals.selectors._reference).
_catalogue_choices_kept: dict[tuple, tuple[list, FixedChoices]] = {}


def _catalogue_choices(key: tuple, rows: list, build) -> FixedChoices:
    """The choices `build` makes from the reference `rows`, built once while the process
    keeps those rows, not once per form (and a request builds its forms again and again).
    `key` must come from the reference data alone, never from what a client sent, so the
    kept choices stay as few as the reference data."""
    kept = _catalogue_choices_kept.get(key)
    if kept is None or kept[0] is not rows:
        kept = _catalogue_choices_kept[key] = (rows, FixedChoices(build()))
    return kept[1]


def _district_choices(catalogue: Catalogue, *, none_label: str | None) -> FixedChoices:
    def build() -> list:
        choices: list = [("", "Choose one")]
        if none_label:
            choices.append((NO_DISTRICT, none_label))
        state_labels = dict(State.choices)
        for state, districts in groupby(catalogue.districts, key=lambda d: d.state):
            group = [(str(d.pk), d.name) for d in districts]
            choices.append((state_labels.get(state, state), group))
        return choices

    return _catalogue_choices(("districts", none_label), catalogue.districts, build)


def _as_id(value: str) -> int | None:
    """A primary key from posted text, or None for anything that is not a plain number."""
    return int(value) if re.fullmatch(r"[0-9]{1,12}", value) else None


def _district_from(catalogue: Catalogue, value: str):
    if value in ("", NO_DISTRICT):
        return None
    district = catalogue.district(_as_id(value))
    if district is None:
        raise ValidationError("Choose one of the listed districts.", code="invalid_choice")
    return district


class ServiceForm(StepForm):
    program = forms.ChoiceField(
        label="Which service would you like?",
        widget=forms.RadioSelect,
        error_messages={"required": "Choose the service you would like."},
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["program"].choices = _catalogue_choices(
            ("programs",),
            self.catalogue.programs,
            lambda: [(p.code, p.name) for p in self.catalogue.bookable_programs],
        )

    def clean_program(self) -> Program:
        return self.catalogue.program(self.cleaned_data["program"])

    def program_options(self) -> list[tuple[forms.BoundField, Program]]:
        return list(zip(self["program"], self.catalogue.bookable_programs, strict=False))


class ConsentForm(StepForm):
    notice_version = forms.CharField(widget=forms.HiddenInput, max_length=20)
    has_accepted_collection_notice = forms.BooleanField(
        label="I have read the collection notice and agree to it",
        error_messages={"required": "Tick to agree to the collection notice, or call us."},
    )
    has_accepted_not_crisis_service = forms.BooleanField(
        label="I understand this is not a crisis service, and that in an emergency I call 000",
        error_messages={"required": "Tick to show you understand this is not a crisis service."},
    )

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("initial", {}).setdefault("notice_version", COLLECTION_NOTICE_VERSION)
        super().__init__(*args, **kwargs)

    def clean_notice_version(self) -> str:
        if self.cleaned_data["notice_version"] != COLLECTION_NOTICE_VERSION:
            raise ValidationError(
                "The collection notice has changed since this page was opened. "
                "Please read it again.",
                code="stale_notice",
            )
        return COLLECTION_NOTICE_VERSION


class IntakeConsentForm(ConsentForm):
    """Phone intake: the coordinator confirms they read the notice to the caller."""

    has_accepted_collection_notice = forms.BooleanField(
        label="I read the collection notice to the caller and they agreed to it",
        error_messages={"required": "Read the notice to the caller and tick once they agree."},
    )
    has_accepted_not_crisis_service = forms.BooleanField(
        label="I told the caller this is not a crisis service and gave them the crisis numbers",
        error_messages={"required": "Tell the caller this is not a crisis service, then tick."},
    )


class EligibilityForm(StepForm):
    non_field_anchor = "other-services"

    career_stage = forms.ChoiceField(
        label="Where are you in your career?",
        choices=CareerStage.choices,
        widget=forms.RadioSelect,
        error_messages={"required": "Choose where you are in your career."},
    )
    state = forms.ChoiceField(
        label="Which state or territory do you work in?",
        choices=[("", "Choose one"), *State.choices],
        error_messages={"required": "Choose the state or territory you work in."},
    )
    employer_district = forms.ChoiceField(
        label="Which health district or health service employs you, or hosts your placement?",
        help_text="Some services are for NSW Health staff and students only.",
        error_messages={"required": "Choose your health district or service, or 'None of these'."},
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["employer_district"].choices = _district_choices(
            self.catalogue, none_label="None of these — I don't work for a health district"
        )
        self.fitting_programs: list[Program] = []

    def clean_employer_district(self):
        return _district_from(self.catalogue, self.cleaned_data["employer_district"])

    def clean(self) -> dict:
        cleaned = super().clean()
        if self.program is None or self.errors:
            return cleaned
        person = Person(
            career_stage=cleaned["career_stage"],
            state=cleaned["state"],
            employer_state=cleaned["employer_district"].state
            if cleaned["employer_district"]
            else None,
        )
        if not is_eligible(program_rules(self.program), person):
            bookable = self.catalogue.bookable_programs
            fitting = eligible_codes([program_rules(p) for p in bookable], person)
            self.fitting_programs = [p for p in bookable if p.code in fitting]
            raise ValidationError(
                f"{self.program.name} is for {self.program.eligibility[0].lower()}"
                f"{self.program.eligibility[1:].rstrip('.')}. "
                "Other services may fit you: see below.",
                code="ineligible",
            )
        return cleaned

    @property
    def is_ineligible(self) -> bool:
        return any(error.code == "ineligible" for error in self.non_field_errors().as_data())

    @property
    def summary_title(self) -> str:
        return "Another service may suit you" if self.is_ineligible else "There is a problem"


class AboutYouForm(StepForm):
    is_on_behalf = forms.TypedChoiceField(
        label="Who needs support?",
        choices=[
            ("False", "I do"),
            ("True", "A colleague: I am referring them, and they have agreed"),
        ],
        coerce=lambda value: value == "True",
        widget=forms.RadioSelect,
        error_messages={"required": "Say who needs support."},
    )
    given_name = forms.CharField(
        label="Given name",
        max_length=100,
        error_messages={"required": "Enter a given name."},
        widget=forms.TextInput(attrs={"autocomplete": "given-name"}),
    )
    family_name = forms.CharField(
        label="Family name",
        max_length=100,
        error_messages={"required": "Enter a family name."},
        widget=forms.TextInput(attrs={"autocomplete": "family-name"}),
    )
    preferred_name = forms.CharField(
        label="Preferred name (optional)",
        help_text="The name to use when we get in touch.",
        max_length=100,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "nickname"}),
    )
    email = forms.EmailField(
        label="Email address",
        help_text="We send the session time and any changes here.",
        max_length=254,
        error_messages={
            "required": "Enter an email address.",
            "invalid": "Enter an email address like name@example.com.",
        },
        widget=forms.EmailInput(attrs={"autocomplete": "email", "spellcheck": "false"}),
    )
    phone = forms.CharField(
        label="Australian mobile number",
        help_text="For example 0412 345 678.",
        max_length=20,
        error_messages={"required": "Enter an Australian mobile number."},
        widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel", "type": "tel"}),
    )
    contact_method = forms.ChoiceField(
        label="How should we get in touch first?",
        choices=Referral.ContactMethod.choices,
        initial=Referral.ContactMethod.EMAIL,
        widget=forms.RadioSelect,
        error_messages={"required": "Choose how we should make contact."},
    )
    is_voicemail_ok = forms.BooleanField(
        label="It's fine to leave a voicemail that mentions Sounding Board", required=False
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.is_intake:
            self.fields["is_on_behalf"].label = "Who is calling?"
            self.fields["is_on_behalf"].choices = [
                ("False", "The person who needs support"),
                ("True", "A colleague, on their behalf and with their agreement"),
            ]

    def clean_phone(self) -> str:
        try:
            number = phonenumbers.parse(self.cleaned_data["phone"], "AU")
        except phonenumbers.NumberParseException:
            number = None
        if (
            number is None
            or not phonenumbers.is_valid_number(number)
            or phonenumbers.region_code_for_number(number) != "AU"
            or phonenumbers.number_type(number) != phonenumbers.PhoneNumberType.MOBILE
        ):
            raise ValidationError(
                "Enter an Australian mobile number, like 0412 345 678.", code="invalid"
            )
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


class ReferrerForm(StepForm):
    referrer_name = forms.CharField(
        label="Your name",
        max_length=200,
        error_messages={"required": "Enter your name."},
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    referrer_email = forms.EmailField(
        label="Your email address",
        max_length=254,
        help_text="Only so we can reach you if we cannot reach them.",
        error_messages={
            "required": "Enter your email address.",
            "invalid": "Enter an email address like name@example.com.",
        },
        widget=forms.EmailInput(attrs={"autocomplete": "email", "spellcheck": "false"}),
    )
    has_person_agreed = forms.BooleanField(
        label="They know about this referral and agreed to it",
        error_messages={
            "required": "We can only accept a referral the person has agreed to. "
            "Tick once they have."
        },
    )


class WorkplaceForm(StepForm):
    workplace_district = forms.ChoiceField(
        label="Which district, network or health service do you work in now?",
        error_messages={"required": "Choose where you work now."},
        widget=forms.Select(attrs={"data-district-select": ""}),
    )
    workplace_facility = forms.ChoiceField(
        label="Which hospital or site?",
        required=False,
        help_text="The list shows the hospitals of the district chosen above.",
        error_messages={
            "invalid_choice": "Choose a hospital of the district above, or “Not listed”."
        },
        widget=forms.Select(attrs={"data-facility-select": ""}),
    )
    specialty = forms.CharField(
        label="Your specialty, or the one you are training in (optional)",
        max_length=100,
        required=False,
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["workplace_district"].choices = _district_choices(
            self.catalogue, none_label=None
        )
        self.district_id = self._chosen_district_id()
        district = self.catalogue.district(self.district_id)  # None for a made-up id
        district_id = district.pk if district else None
        self.fields["workplace_facility"].choices = _catalogue_choices(
            ("facilities", district_id),
            self.catalogue.facilities,
            lambda: [
                ("", "Not listed, or I would rather not say"),
                *((str(f.pk), f.name) for f in self.catalogue.facilities_in(district_id)),
            ],
        )

    def _chosen_district_id(self) -> int | None:
        if self.is_bound:
            value = self.data.get(self.add_prefix("workplace_district"), "")
        else:
            value = str(self.initial.get("workplace_district", ""))
        return _as_id(value)

    def clean_workplace_district(self):
        return _district_from(self.catalogue, self.cleaned_data["workplace_district"])

    def clean_workplace_facility(self):
        value = self.cleaned_data["workplace_facility"]
        return self.catalogue.facility(_as_id(value)) if value else None

    def facilities_by_district(self) -> dict[str, list[list]]:
        """Every district's hospitals, for the script that narrows the list as you choose."""
        mapping: dict[str, list[list]] = {}
        for facility in self.catalogue.facilities:
            mapping.setdefault(str(facility.district_id), []).append([facility.pk, facility.name])
        return mapping


class ReasonsForm(StepForm):
    reasons = forms.MultipleChoiceField(
        label="What would you like to talk about?",
        help_text="Choose any that apply.",
        choices=Reason.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Built here rather than at import so the limit follows the setting.
        limit = settings.REFERRAL_DETAILS_MAX_LENGTH
        self.fields["details"] = forms.CharField(
            label="Anything else you would like us to know (optional)",
            help_text=f"Up to {limit:,} characters. Only the people arranging support read it.",
            max_length=limit,
            required=False,
            widget=forms.Textarea(attrs={"rows": 5}),
            error_messages={"max_length": f"Keep this to {limit:,} characters or fewer."},
        )


class SafetyForm(StepForm):
    """The safety questions. Every one is needed unless the answers given are already urgent:
    a person who says they are not safe goes straight to help, whatever else they left."""

    is_safe_now = forms.ChoiceField(
        label="Are you safe right now?",
        choices=[(triage.YES, "Yes"), (triage.NO, "No"), (triage.NOT_SURE, "Not sure")],
        widget=forms.RadioSelect,
        required=False,
        error_messages={"required": "Tell us whether you are safe right now."},
    )
    self_harm_thoughts = forms.ChoiceField(
        label=(
            "Over the last two weeks, how often have you had thoughts that you would be better "
            "off dead, or of hurting yourself?"
        ),
        choices=[
            (triage.NOT_AT_ALL, "Not at all"),
            ("several_days", "Several days"),
            ("more_than_half", "More than half the days"),
            ("nearly_every_day", "Nearly every day"),
        ],
        widget=forms.RadioSelect,
        required=False,
        error_messages={"required": "Choose how often you have had these thoughts."},
    )
    has_plan = forms.ChoiceField(
        label="If you have had these thoughts: do you have a plan, or intend to act on them?",
        help_text="Leave this if you answered “Not at all” above.",
        choices=[(triage.YES, "Yes"), (triage.NO, "No"), (triage.NOT_SURE, "Not sure")],
        widget=forms.RadioSelect,
        required=False,
        error_messages={"required": "Tell us whether you have a plan or intend to act."},
    )
    recent_self_harm = forms.ChoiceField(
        label="Have you harmed yourself, or tried to, in the last month?",
        choices=[
            (triage.YES, "Yes"),
            (triage.NO, "No"),
            (triage.PREFER_NOT_TO_SAY, "I would prefer not to say"),
        ],
        widget=forms.RadioSelect,
        required=False,
        error_messages={"required": "Answer whether you have harmed yourself in the last month."},
    )
    worried_harm_others = forms.ChoiceField(
        label="Are you worried you might harm someone else?",
        choices=[(triage.YES, "Yes"), (triage.NO, "No")],
        widget=forms.RadioSelect,
        required=False,
        error_messages={"required": "Answer whether you are worried you might harm someone."},
    )

    QUESTIONS = (
        "is_safe_now",
        "self_harm_thoughts",
        "has_plan",
        "recent_self_harm",
        "worried_harm_others",
    )

    def clean(self) -> dict:
        cleaned = super().clean()
        if self.errors:  # an answer that is not one of the choices
            return cleaned
        if cleaned.get("self_harm_thoughts") == triage.NOT_AT_ALL:
            cleaned["has_plan"] = triage.NOT_ANSWERED
        answers = self.answers()
        if not triage.is_urgent(answers) and not answers.is_complete:
            for name in self.QUESTIONS:
                if not cleaned.get(name) and (name != "has_plan" or answers.has_thoughts):
                    self.add_error(name, self.fields[name].error_messages["required"])
        return cleaned

    def answers(self, *, k10: tuple[int, ...] | None = None) -> triage.SafetyAnswers:
        data = self.cleaned_data
        return triage.SafetyAnswers(
            **{name: data.get(name) or triage.NOT_ANSWERED for name in self.QUESTIONS}, k10=k10
        )


class WellbeingCheckForm(StepForm):
    """The optional K10: all ten answers or none."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for number, question in enumerate(K10_QUESTIONS, start=1):
            self.fields[f"k10_{number}"] = forms.TypedChoiceField(
                label=f"{number}. In the last four weeks, about how often did you feel {question}",
                choices=K10_CHOICES,
                coerce=int,
                required=False,
                widget=forms.RadioSelect,
            )

    def clean(self) -> dict:
        cleaned = super().clean()
        answered = [name for name in self.k10_names if cleaned.get(name)]
        if answered and len(answered) < len(self.k10_names):
            for name in self.k10_names:
                if not cleaned.get(name) and name not in self.errors:
                    self.add_error(name, "Answer this question too, or skip all of them.")
        return cleaned

    @property
    def k10_names(self) -> list[str]:
        return [f"k10_{number}" for number in range(1, len(K10_QUESTIONS) + 1)]

    def k10_items(self) -> tuple[int, ...] | None:
        items = tuple(self.cleaned_data.get(name) for name in self.k10_names)
        return items if all(items) else None


class PreferencesForm(StepForm):
    modality = forms.ChoiceField(
        label="Would you rather talk by phone or by video?",
        choices=Referral.Modality.choices,
        initial=Referral.Modality.ANY,
        widget=forms.RadioSelect,
        error_messages={"required": "Choose phone, video or no preference."},
    )
    clinician_gender = forms.ChoiceField(
        label="Would you like to talk with someone of a particular gender?",
        choices=Referral.GenderPreference.choices,
        initial=Referral.GenderPreference.ANY,
        widget=forms.RadioSelect,
        error_messages={"required": "Choose a gender, or no preference."},
    )
    specialty_preference = forms.ChoiceField(
        label="Would you like someone from your own specialty, or a different one?",
        choices=Referral.SpecialtyPreference.choices,
        initial=Referral.SpecialtyPreference.ANY,
        widget=forms.RadioSelect,
        error_messages={"required": "Choose a specialty preference, or no preference."},
    )
    time_zone = forms.ChoiceField(
        label="Your time zone",
        choices=TIME_ZONE_CHOICES,
        error_messages={"required": "Choose your time zone."},
    )
    preferred_windows = forms.MultipleChoiceField(
        label="Which times usually suit you?",
        help_text="Tick all that could work. Leave them all empty if any time suits you.",
        choices=[
            (f"{day}-{part}", f"{WEEKDAY_LABELS[day]} {label[0].lower()}{label[1:]}")
            for day in WEEKDAYS
            for part, (_start, _end, label) in PARTS_OF_DAY.items()
        ],
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def window_days(self) -> list[tuple[str, list[tuple[forms.BoundField, str]]]]:
        """The window checkboxes grouped by weekday, each with its part-of-day label."""
        boxes = list(self["preferred_windows"])
        parts = [label for _start, _end, label in PARTS_OF_DAY.values()]
        return [
            (WEEKDAY_LABELS[day], list(zip(boxes[i * 3 : i * 3 + 3], parts, strict=True)))
            for i, day in enumerate(WEEKDAYS)
        ]


class CheckForm(StepForm):
    """The last page: the answers are shown by the view; posting it sends the referral."""


def referral_draft(steps: Mapping[str, Mapping]) -> ReferralDraft:
    """The service's input from the steps' cleaned data (steps not reached use defaults)."""
    service = steps["service"]
    consent = steps.get("before-you-start") or steps["consent-read-out"]
    about = steps["about-you"]
    eligibility = steps.get("eligibility", {})
    referrer = steps.get("referrer", {})
    workplace = steps.get("workplace", {})
    reasons = steps.get("whats-going-on", {})
    preferences = steps.get("preferences", {})
    defaults = ReferralDraft.__dataclass_fields__
    return ReferralDraft(
        program=service["program"],
        collection_notice_version=consent["notice_version"],
        has_accepted_not_crisis_service=consent["has_accepted_not_crisis_service"],
        given_name=about["given_name"],
        family_name=about["family_name"],
        preferred_name=about["preferred_name"],
        email=about["email"],
        phone=about["phone"],
        contact_method=about["contact_method"],
        is_voicemail_ok=about["is_voicemail_ok"],
        is_on_behalf=about["is_on_behalf"],
        referrer_name=referrer.get("referrer_name", ""),
        referrer_email=referrer.get("referrer_email", ""),
        has_person_agreed=referrer.get("has_person_agreed", False),
        career_stage=eligibility.get("career_stage", ""),
        state=eligibility.get("state", ""),
        employer_district=eligibility.get("employer_district"),
        workplace_district=workplace.get("workplace_district"),
        workplace_facility=workplace.get("workplace_facility"),
        specialty=workplace.get("specialty", ""),
        reasons=tuple(reasons.get("reasons", ())),
        details=reasons.get("details", ""),
        modality=preferences.get("modality", defaults["modality"].default),
        clinician_gender=preferences.get("clinician_gender", defaults["clinician_gender"].default),
        specialty_preference=preferences.get(
            "specialty_preference", defaults["specialty_preference"].default
        ),
        preferred_windows=tuple(preferences.get("preferred_windows", ())),
        time_zone=preferences.get("time_zone", defaults["time_zone"].default),
    )
