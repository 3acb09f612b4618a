"""The public pages and the self-referral wizard (also used, signed in, for phone intake).

The wizard keeps every answer in the server-side session (never in a cookie) under its own
prefix, one URL per step. Urgent safety answers end it at once: what was given so far is saved
as a DIVERTED referral and the person sees the crisis page.
"""

import logging
from dataclasses import dataclass
from functools import cached_property

import phonenumbers
from django.conf import settings
from django.contrib.sessions.backends.base import UpdateError
from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError, transaction
from django.forms import MultipleChoiceField
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views.decorators.http import require_http_methods
from formtools.wizard.views import NamedUrlSessionWizardView

from notifications.services import appointment_notify, referral_created_notify
from scheduling.services.urgent import urgent_consult_current, urgent_consult_propose
from scheduling.tasks import match_referral
from staff.access import coordinator_required

from . import forms, triage
from .models import District, Facility, Program, Referral
from .notices import COLLECTION_NOTICE_VERSION, collection_notice_template
from .ratelimit import submission_allowed
from .selectors import Catalogue, referral_for_confirmation
from .services import ReferralDraft, referral_submit

logger = logging.getLogger(__name__)

R = Referral.Status

STEP_FORMS = (
    ("service", forms.ServiceForm),
    ("before-you-start", forms.ConsentForm),
    ("consent-read-out", forms.IntakeConsentForm),
    ("eligibility", forms.EligibilityForm),
    ("about-you", forms.AboutYouForm),
    ("referrer", forms.ReferrerForm),
    ("workplace", forms.WorkplaceForm),
    ("whats-going-on", forms.ReasonsForm),
    ("safety", forms.SafetyForm),
    ("wellbeing-check", forms.WellbeingCheckForm),
    ("preferences", forms.PreferencesForm),
    ("check", forms.CheckForm),
)
STEP_TITLES = {
    "service": "Choose a service",
    "before-you-start": "Before you start",
    "consent-read-out": "Before you start: read this to the caller",
    "eligibility": "Who the service is for",
    "about-you": "About you",
    "referrer": "About you, the referrer",
    "workplace": "Your workplace",
    "whats-going-on": "What's going on",
    "safety": "Your safety",
    "wellbeing-check": "How you have been feeling",
    "preferences": "Your preferences",
    "check": "Check your answers",
}
# Steps whose answers a referral cannot be saved without, even an urgent one (with one of the
# two consent steps).
REQUIRED_FOR_ANY_REFERRAL = ("service", "about-you")
CONSENT_STEPS = ("before-you-start", "consent-read-out")
NOTIFY_CHANGE = {R.DIVERTED: "diverted", R.HELD: "over_limit", R.NEW: "submitted"}


def is_self_referral(wizard: "ReferralWizard") -> bool:
    return not wizard.mode.is_intake


def is_phone_intake(wizard: "ReferralWizard") -> bool:
    return wizard.mode.is_intake


def is_on_behalf(wizard: "ReferralWizard") -> bool:
    about = wizard.get_cleaned_data_for_step("about-you") or {}
    return bool(about.get("is_on_behalf"))


@dataclass(frozen=True)
class Mode:
    """Self-referral or phone intake: the same wizard under different names and URLs."""

    name: str
    is_intake: bool
    step_url_name: str
    submitted_url_name: str
    urgent_url_name: str

    @property
    def submitted_key(self) -> str:
        return f"referrals:{self.name}:submitted"

    @property
    def diverted_key(self) -> str:
        return f"referrals:{self.name}:diverted"


SELF_REFERRAL = Mode(
    name="self_referral",
    is_intake=False,
    step_url_name="referrals:refer_step",
    submitted_url_name="referrals:refer_sent",
    urgent_url_name="referrals:refer_urgent",
)
PHONE_INTAKE = Mode(
    name="phone_intake",
    is_intake=True,
    step_url_name="referrals:intake_step",
    submitted_url_name="referrals:intake_sent",
    urgent_url_name="referrals:intake_urgent",
)
MODES = {mode.name: mode for mode in (SELF_REFERRAL, PHONE_INTAKE)}


class SubmissionRefused(Exception):
    """The referral could not be sent now; the wizard keeps every answer for another try."""

    def __init__(self, reason: str, status: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


def referral_submit_and_follow_up(
    *, draft: ReferralDraft, safety: triage.SafetyAnswers, intake_by=None
) -> Referral:
    """Save the referral, hand it to notifications and queue matching, in one transaction.

    Matching is queued after commit and only for a NEW referral. A broker outage must not turn
    a saved referral into an error page: delay_on_commit logs the outage and the referral's
    `match_requested_at` lets the sweeper find it later. (Not on_commit(partial(...),
    robust=True): Django's robust hook names the failing callable by its __qualname__, which a
    partial lacks, so the outage became an AttributeError and a server error.)
    """
    with transaction.atomic(savepoint=False):
        referral = referral_submit(draft=draft, safety=safety, intake_by=intake_by)
        if referral.status == R.NEW:
            # Queued first: what the clinician's invitation waits for goes ahead of the
            # person's "request received".
            match_referral.delay_on_commit(referral.pk)
        referral_created_notify(referral=referral, change=NOTIFY_CHANGE[referral.status])
    return referral


class ReferralWizard(NamedUrlSessionWizardView):
    form_list = STEP_FORMS
    condition_dict = {
        "before-you-start": is_self_referral,
        "consent-read-out": is_phone_intake,
        "referrer": is_on_behalf,
    }
    mode: Mode = SELF_REFERRAL

    def get_prefix(self, request, *args, **kwargs) -> str:
        return self.mode.name

    def get_template_names(self) -> list[str]:
        return [f"referrals/wizard/{self.steps.current.replace('-', '_')}.html"]

    @cached_property
    def catalogue(self) -> Catalogue:
        return Catalogue()

    # Forms -------------------------------------------------------------------------------

    def get_form_kwargs(self, step=None) -> dict:
        kwargs = {"catalogue": self.catalogue, "is_intake": self.mode.is_intake}
        if step == "eligibility":
            kwargs["program"] = (self.get_cleaned_data_for_step("service") or {}).get("program")
        return kwargs

    def get_form_initial(self, step) -> dict:
        initial = dict(super().get_form_initial(step))
        if step == "workplace":
            employer = (self.get_cleaned_data_for_step("eligibility") or {}).get(
                "employer_district"
            )
            if employer is not None:
                initial["workplace_district"] = str(employer.pk)
        elif step == "preferences":
            state = (self.get_cleaned_data_for_step("eligibility") or {}).get("state")
            initial["time_zone"] = forms.STATE_TIME_ZONES.get(state, settings.TIME_ZONE)
        initial.update(self._draft_initial(step))
        return initial

    def get_cleaned_data_for_step(self, step) -> dict | None:
        form = self._form_of_stored_answers(step)
        return form.cleaned_data if form is not None and form.is_valid() else None

    def _form_of_stored_answers(self, step: str):
        """The step's form bound to its stored answers, built once per request until an answer
        is stored: the conditions, kwargs and initial values of other steps, the check page and
        the final revalidation all ask for the same forms (sixteen builds on a final POST,
        twelve with this)."""
        if step not in self.form_list:
            return None
        if step not in self._stored_answer_forms:
            self._stored_answer_forms[step] = self.get_form(
                step=step,
                data=self.storage.get_step_data(step),
                files=self.storage.get_step_files(step),
            )
        return self._stored_answer_forms[step]

    @cached_property
    def _stored_answer_forms(self) -> dict:
        return {}

    def _answers_stored(self) -> None:
        """Forget the forms of stored answers: an answer has changed, and with it maybe the
        kwargs and initial values of other steps."""
        self._stored_answer_forms.clear()

    def get_form_step_data(self, form) -> dict[str, list[str]]:
        # Keep only this form's own fields: no CSRF token, nothing a client added.
        return {key: form.data.getlist(key) for key in _field_keys(form) if key in form.data}

    def process_step(self, form) -> dict[str, list[str]]:
        # formtools stores what this returns as the step's answers.
        had_draft = self._drafts().pop(self.steps.current, None) is not None
        answers = super().process_step(form)
        stored = self.storage.get_step_data(self.steps.current)
        if had_draft or stored is None or dict(stored.lists()) != answers:
            self._answers_stored()
        return answers

    # Requests ----------------------------------------------------------------------------

    def get(self, request, *args, **kwargs) -> HttpResponse:
        step = kwargs.get("step")
        if step == self.done_step_name:
            # Sending happens only when the check page is posted, never on a GET.
            return redirect(self.get_step_url("check"))
        if step in self.get_form_list():
            missing = self._first_step_without_answers(before=step)
            if missing is not None:
                return redirect(self.get_step_url(missing))
            self._note_changing(step)
            if step in self._drafts():
                self.storage.current_step = step
                return self.render(self.get_form(step))
        return super().get(request, *args, **kwargs)

    def post(self, *args, **kwargs) -> HttpResponse:
        posted_step = self.request.POST.get(f"{self.prefix}-current_step", "")
        form_list = self.get_form_list()
        if posted_step not in form_list:
            # A stale or altered page: show the step the wizard is really on.
            return redirect(self.get_step_url(self.steps.current))
        self.storage.current_step = posted_step
        goto = self.request.POST.get("wizard_goto_step", "")
        if goto:
            self._keep_typed(posted_step)
            return self.render_goto_step(goto if goto in form_list else posted_step)
        missing = self._first_step_without_answers(before=posted_step)
        if missing is not None:
            self._keep_typed(posted_step)
            return redirect(self.get_step_url(missing))
        if posted_step == "workplace" and "refresh_facilities" in self.request.POST:
            self._keep_typed(posted_step)
            return self.render(self.get_form(posted_step))
        if posted_step == "eligibility" and "switch_program" in self.request.POST:
            self._switch_program(self.request.POST.get("switch_program", ""))
        if posted_step == "wellbeing-check" and "skip_questions" in self.request.POST:
            self.request.POST = _without_step_answers(self.request.POST, posted_step)
        return super().post(*args, **kwargs)

    def render_next_step(self, form, **kwargs) -> HttpResponse:
        if self.steps.current == "safety" and triage.is_urgent(form.answers()):
            return self._divert(form)
        if self._is_changing():
            target = self._first_step_not_valid() or "check"
            self.storage.current_step = target
            return redirect(self.get_step_url(target))
        return super().render_next_step(form, **kwargs)

    def render_done(self, form, **kwargs) -> HttpResponse:
        # Reached only from the check page's POST: skip the named-URL redirect to a done URL
        # (which would send the referral on a GET). A refusal leaves the session untouched.
        # The session is saved in the referral's own transaction: the referral is committed
        # exactly when the session stops holding the answers (a lost commit cannot leave them
        # there to be sent twice), in one commit instead of two.
        # The revalidation of every step is formtools' own (WizardView.render_done), with the
        # forms this request has already built for the stored answers.
        try:
            with transaction.atomic():
                response = self._revalidate_and_send(**kwargs)
                _session_save(self.request)
            return response
        except SubmissionRefused as refusal:
            return _not_sent(self.request, refusal, self.get_step_url("check"))

    def _revalidate_and_send(self, **kwargs) -> HttpResponse:
        final_forms = {}
        for step in self.get_form_list():
            form = self._form_of_stored_answers(step)
            if not form.is_valid():
                return self.render_revalidation_failure(step, form, **kwargs)
            final_forms[step] = form
        response = self.done(list(final_forms.values()), form_dict=final_forms, **kwargs)
        self.storage.reset()
        return response

    def done(self, form_list, form_dict=None, **kwargs) -> HttpResponse:
        steps = {name: form.cleaned_data for name, form in form_dict.items()}
        safety = form_dict["safety"].answers(k10=form_dict["wellbeing-check"].k10_items())
        referral = self._submit(forms.referral_draft(steps), safety)
        if referral.status == R.DIVERTED:
            # Urgent answers kept by "Back" and never posted forward: still the crisis page.
            self.request.session[self.mode.diverted_key] = {"referral_id": referral.pk}
            return redirect(self.mode.urgent_url_name)
        self.request.session[self.mode.submitted_key] = referral.pk
        return redirect(self.mode.submitted_url_name)

    # Context -----------------------------------------------------------------------------

    def get_context_data(self, form, **kwargs) -> dict:
        context = super().get_context_data(form=form, **kwargs)
        step = self.steps.current
        context.update(
            step_title=STEP_TITLES[step],
            is_intake=self.mode.is_intake,
            is_changing=self._is_changing(),
            previous_step=self.steps.prev,
            catalogue=self.catalogue,
            notice_template=collection_notice_template(),
            notice_version=COLLECTION_NOTICE_VERSION,
        )
        if step == "check":
            context["answers"] = self._answers_summary()
        return context

    def _answers_summary(self) -> list[dict]:
        sections = []
        for step in self.get_form_list():
            if step == "check":
                continue
            form = self._form_of_stored_answers(step)
            if not form.is_valid():
                continue
            sections.append(
                {
                    "title": STEP_TITLES[step],
                    "change_url": f"{self.get_step_url(step)}?from=check",
                    "step": step,
                    "rows": _summary_rows(form),
                }
            )
        return sections

    # Steps bookkeeping -------------------------------------------------------------------

    def _first_step_without_answers(self, *, before: str) -> str | None:
        for step in self.get_form_list():
            if step == before:
                return None
            if self.storage.get_step_data(step) is None:
                return step
        return None

    def _first_step_not_valid(self) -> str | None:
        for step in self.get_form_list():
            if step != "check" and self.get_cleaned_data_for_step(step) is None:
                return step
        return None

    def _drafts(self) -> dict:
        return self.storage.extra_data.setdefault("drafts", {})

    def _keep_typed(self, step: str) -> None:
        """Keep what was typed on `step` while the person goes elsewhere: as answers if they are
        valid, else as a draft shown (without errors) when they come back."""
        form = self.get_form(step, data=self.request.POST)
        if form.is_valid():
            self.storage.set_step_data(step, self.process_step(form))  # forgets stored forms
        else:
            self._drafts()[step] = self.get_form_step_data(form)

    def _draft_initial(self, step: str) -> dict:
        draft = self._drafts().get(step)
        if not draft:
            return {}
        form_class = self.get_form_list()[step]
        prefix = self.get_form_prefix(step, form_class)
        initial = {}
        for key, values in draft.items():
            name = key.removeprefix(f"{prefix}-")
            multiple = isinstance(form_class.base_fields.get(name), MultipleChoiceField)
            initial[name] = values if multiple else (values[0] if values else "")
        return initial

    def _note_changing(self, step: str) -> None:
        if self.request.GET.get("from") == "check":
            self.storage.extra_data["is_changing"] = True
        elif step == "check":
            self.storage.extra_data["is_changing"] = False

    def _is_changing(self) -> bool:
        return bool(self.storage.extra_data.get("is_changing"))

    def _switch_program(self, code: str) -> None:
        """The ineligible person chose a service that fits them: swap it in, keep the rest."""
        program = self.catalogue.program(code)
        if program is None or not program.is_bookable:
            return
        self.storage.set_step_data("service", {"service-program": [program.code]})
        self._answers_stored()

    # Sending -----------------------------------------------------------------------------

    def _submit(self, draft: ReferralDraft, safety: triage.SafetyAnswers) -> Referral:
        if not self.mode.is_intake and not submission_allowed(self.request):
            raise SubmissionRefused("rate_limited", status=429)
        try:
            return referral_submit_and_follow_up(
                draft=draft,
                safety=safety,
                intake_by=self.request.user if self.mode.is_intake else None,
            )
        except DatabaseError as error:
            logger.error("referral not saved: %s", type(error).__name__)
            raise SubmissionRefused("not_saved", status=503) from error

    def _divert(self, safety_form: forms.SafetyForm) -> HttpResponse:
        """Urgent: save what was given so far, straight away, and show the crisis page."""
        steps = {}
        for step in self.get_form_list():
            if step == "safety":
                break
            steps[step] = self.get_cleaned_data_for_step(step)
        outcome = {"referral_id": None}
        has_consent = any(steps.get(step) for step in CONSENT_STEPS)
        if has_consent and all(steps.get(step) for step in REQUIRED_FOR_ANY_REFERRAL):
            draft = forms.referral_draft({name: data for name, data in steps.items() if data})
            try:
                referral = self._submit(draft, safety_form.answers())
            except SubmissionRefused as refusal:
                outcome["not_saved"] = refusal.reason
            else:
                outcome["referral_id"] = referral.pk
                self.storage.reset()
        self.request.session[self.mode.diverted_key] = outcome
        return redirect(self.mode.urgent_url_name)


class SelfReferralWizard(ReferralWizard):
    mode = SELF_REFERRAL


@method_decorator(coordinator_required, name="dispatch")
class PhoneIntakeWizard(ReferralWizard):
    mode = PHONE_INTAKE


def _session_save(request: HttpRequest) -> None:
    """Save the session now, in the caller's transaction, instead of after the response. If it
    cannot be saved, nothing of the transaction is kept and the person is told so."""
    if not request.session.modified:
        return
    try:
        request.session.save()
    except (DatabaseError, UpdateError) as error:  # the database backend raises UpdateError
        logger.error("session not saved with the referral: %s", type(error).__name__)
        raise SubmissionRefused("not_saved", status=503) from error
    request.session.modified = False  # SessionMiddleware would save it again


def _without_step_answers(post: QueryDict, step: str) -> QueryDict:
    """The POST without the step's own answers: what skipping an optional step sends."""
    kept = post.copy()
    for key in list(kept):
        if key.startswith(f"{step}-"):
            del kept[key]
    return kept


def _field_keys(form) -> list[str]:
    return [form.add_prefix(name) for name in form.fields]


_HIDDEN_FROM_SUMMARY = {"website", "notice_version"}


def _summary_rows(form) -> list[dict]:
    if isinstance(form, forms.WellbeingCheckForm):
        answered = form.k10_items() is not None
        anchor = forms.field_anchor(form["k10_1"])
        return [
            {
                "label": "Ten questions",
                "value": "Answered" if answered else "Skipped",
                "anchor": anchor,
            }
        ]
    return [
        {
            "label": str(field.label),
            "value": _display(field, form.cleaned_data.get(name)),
            "anchor": forms.field_anchor(form[name]),
        }
        for name, field in form.fields.items()
        if name not in _HIDDEN_FROM_SUMMARY
    ]


def _display(field, value) -> str:
    if isinstance(value, Program | District | Facility):
        return str(value)
    labels = _flat_choices(getattr(field, "choices", ()))
    if isinstance(value, list | tuple):
        return ", ".join(labels.get(str(item), str(item)) for item in value) or "Not given"
    if labels and str(value) in labels:
        return labels[str(value)]
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if value in (None, ""):
        return "Not given"
    if isinstance(value, str) and value.startswith("+61"):
        return phonenumbers.format_number(
            phonenumbers.parse(value), phonenumbers.PhoneNumberFormat.NATIONAL
        )
    return str(value)


def _flat_choices(choices) -> dict[str, str]:
    flat = {}
    for key, label in choices:
        if isinstance(label, list | tuple):
            flat.update(_flat_choices(label))
        else:
            flat[str(key)] = str(label)
    return flat


NOT_SENT_MESSAGES = {
    "rate_limited": "Too many referrals have been sent from this connection in the last hour.",
    "not_saved": "Something went wrong on our side and your referral was not sent.",
}


def _not_sent(request: HttpRequest, refusal: SubmissionRefused, back_url: str) -> HttpResponse:
    return render(
        request,
        "referrals/referral_not_sent.html",
        {"message": NOT_SENT_MESSAGES[refusal.reason], "back_url": back_url},
        status=refusal.status,
    )


# The pages around the wizard ---------------------------------------------------------------


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "referrals/home.html", {"programs": Program.objects.all()})


def collection_notice(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "referrals/collection_notice.html",
        {
            "notice_template": collection_notice_template(),
            "notice_version": COLLECTION_NOTICE_VERSION,
        },
    )


def referral_submitted(request: HttpRequest, mode: str) -> HttpResponse:
    """The confirmation: reference, what happens next. The same words whether or not the
    person's episode is over its limit, so the page reveals no history."""
    mode_ = MODES[mode]
    referral_id = request.session.get(mode_.submitted_key)
    referral = referral_for_confirmation(referral_id=referral_id) if referral_id else None
    if referral is None:
        return redirect(reverse(mode_.step_url_name, kwargs={"step": "service"}))
    return render(
        request,
        "referrals/referral_submitted.html",
        {
            "referral": referral,
            "is_priority": referral.priority == Referral.Priority.PRIORITY,
            "is_intake": mode_.is_intake,
            "contact_within_days": settings.REFERRAL_CONTACT_WITHIN_WORKING_DAYS,
            "start_url": reverse(mode_.step_url_name, kwargs={"step": "service"}),
        },
    )


@require_http_methods(["GET", "POST"])
def referral_diverted(request: HttpRequest, mode: str) -> HttpResponse:
    """The crisis page after urgent answers; for Drs4Drs, the explicit "talk now" choice."""
    mode_ = MODES[mode]
    outcome = request.session.get(mode_.diverted_key) or {}
    referral_id = outcome.get("referral_id")
    referral = referral_for_confirmation(referral_id=referral_id) if referral_id else None
    if request.method == "POST":
        if referral is not None and request.POST.get("talk_now") == "yes":
            with transaction.atomic():
                appointment = urgent_consult_propose(referral_id=referral.pk)
                if appointment is not None:
                    appointment_notify(appointment_id=appointment.pk, change="proposed")
        return redirect(mode_.urgent_url_name)
    consult = urgent_consult_current(referral_id=referral.pk) if referral else None
    district = referral and (referral.workplace_district or referral.employer_district)
    return render(
        request,
        "referrals/referral_diverted.html",
        {
            "referral": referral,
            "is_saved": referral is not None,
            "was_not_saved": "not_saved" in outcome,
            "is_intake": mode_.is_intake,
            "district": district,
            "consult": consult,
            "offers_talk_now": bool(
                referral
                and referral.program.offers_urgent_consult
                and referral.status == R.DIVERTED
            ),
            "has_asked_talk_now": bool(referral and referral.wants_urgent_consult),
            "back_url": reverse(mode_.step_url_name, kwargs={"step": "safety"}),
        },
    )


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """What a request the site cannot read gets (handler400): a body over
    DATA_UPLOAD_MAX_MEMORY_SIZE is 413, too many fields or a body that is not UTF-8 is 400. The
    site's own page, with the crisis lines, instead of Django's one-line default."""
    is_too_large = isinstance(exception, RequestDataTooBig)
    return render(
        request,
        "referrals/bad_request.html",
        {"is_too_large": is_too_large, "home_url": reverse("referrals:home")},
        status=413 if is_too_large else 400,
    )


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """A plain explanation instead of Django's developer page (CSRF_FAILURE_VIEW)."""
    return render(request, "referrals/csrf_failure.html", status=403)


intake_submitted = coordinator_required(referral_submitted)
intake_diverted = coordinator_required(referral_diverted)
