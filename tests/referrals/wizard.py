"""Driving the self-referral wizard with the Django test client, as a browser would post it.

Each step posts `<prefix>-current_step` and its fields prefixed with the step name. The answers
below are a complete, eligible, routine referral; tests change what they are about.
"""

from dataclasses import dataclass, field

from django.test import Client
from django.urls import reverse

from referrals.models import District, Facility

SELF_PREFIX = "self_referral"
INTAKE_PREFIX = "phone_intake"

ROUTINE_SAFETY = {
    "is_safe_now": "yes",
    "self_harm_thoughts": "not_at_all",
    "recent_self_harm": "no",
    "worried_harm_others": "no",
}


def nsw_workplace() -> tuple[District, Facility]:
    district = District.objects.get(code="sydney-lhd")
    return district, district.facilities.order_by("name").first()


def routine_answers(*, program: str = "dup", email: str = "alex.doctor@example.test") -> dict:
    """Step name → fields (unprefixed) for an eligible NSW resident with routine safety."""
    district, facility = nsw_workplace()
    return {
        "service": {"program": program},
        "before-you-start": {
            "notice_version": "2026-11",
            "has_accepted_collection_notice": "on",
            "has_accepted_not_crisis_service": "on",
        },
        "consent-read-out": {
            "notice_version": "2026-11",
            "has_accepted_collection_notice": "on",
            "has_accepted_not_crisis_service": "on",
        },
        "eligibility": {
            "career_stage": "resident",
            "state": "NSW",
            "employer_district": str(district.pk),
        },
        "about-you": {
            "is_on_behalf": "False",
            "given_name": "Alex",
            "family_name": "Doctor",
            "preferred_name": "",
            "email": email,
            "phone": "0412 345 678",
            "contact_method": "email",
        },
        "referrer": {
            "referrer_name": "Sam Colleague",
            "referrer_email": "sam@example.test",
            "has_person_agreed": "on",
        },
        "workplace": {
            "workplace_district": str(district.pk),
            "workplace_facility": str(facility.pk),
            "specialty": "Emergency medicine",
        },
        "whats-going-on": {"reasons": ["workload", "burnout"], "details": "Long shifts."},
        "safety": dict(ROUTINE_SAFETY),
        "wellbeing-check": {},
        "preferences": {
            "modality": "phone",
            "clinician_gender": "any",
            "specialty_preference": "different",
            "time_zone": "Australia/Sydney",
            "preferred_windows": ["mon-evening", "sat-morning"],
        },
        "check": {},
    }


@dataclass
class Wizard:
    """A person's browser session in the wizard."""

    client: Client
    prefix: str = SELF_PREFIX
    url_name: str = "referrals:refer_step"
    responses: list = field(default_factory=list)

    def url(self, step: str) -> str:
        return reverse(self.url_name, kwargs={"step": step})

    def get(self, step: str, **query):
        response = self.client.get(self.url(step), query)
        self.responses.append(response)
        return response

    def post(self, step: str, data: dict | None = None, **extra_post):
        payload = {f"{self.prefix}-current_step": step}
        for name, value in (data or {}).items():
            payload[f"{step}-{name}"] = value
        payload.update(extra_post)
        response = self.client.post(self.url(step), payload)
        self.responses.append(response)
        return response

    def walk(self, answers: dict, steps: list[str]):
        """Post each step in order, checking each one moves on; returns the last response."""
        response = None
        for step in steps:
            response = self.post(step, answers[step])
            assert response.status_code == 302, (step, _errors(response))
        return response


SELF_STEPS = [
    "service",
    "before-you-start",
    "eligibility",
    "about-you",
    "workplace",
    "whats-going-on",
    "safety",
    "wellbeing-check",
    "preferences",
    "check",
]
STEPS_BEFORE_SAFETY = SELF_STEPS[: SELF_STEPS.index("safety")]


def _errors(response) -> object:
    form = getattr(response, "context", None) and response.context.get("form")
    return form.errors if form is not None else response.status_code


def matches_queued(callbacks) -> list:
    """The on-commit callbacks that queue matching (sending mail is queued on commit too)."""
    task_name = "scheduling.tasks.match_referral"
    return [
        c
        for c in callbacks
        if getattr(getattr(c, "func", None), "__self__", None)
        and getattr(c.func.__self__, "name", None) == task_name
    ]
