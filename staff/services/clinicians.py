"""Coordinators looking after clinicians: accounts, availability and leave, deactivation."""

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, Group
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from referrals.models import Referral
from scheduling.availability import WeeklyRule
from scheduling.models import Appointment, AvailabilityRule, Clinician, TimeOff
from scheduling.services import slots_materialise

from .. import access
from .cases import appointment_expire_and_rematch

A = Appointment.Status


def rule_of(rule: AvailabilityRule) -> WeeklyRule:
    return WeeklyRule(
        rule.weekday,
        rule.starts_at_time,
        rule.ends_at_time,
        rule.valid_from_on,
        rule.valid_until_on,
    )


def current_rules_and_leave(clinician: Clinician):
    rules = [rule_of(rule) for rule in clinician.availability_rules.all()]
    leave = list(clinician.time_off.values_list("starts_at", "ends_at"))
    return rules, leave


def sessions_clashing_with(
    clinician: Clinician, starts_at: dt.datetime, ends_at: dt.datetime
) -> list[Appointment]:
    """Live sessions of the clinician inside a period of leave, for a coordinator to move."""
    return list(
        Appointment.objects.filter(
            clinician=clinician,
            status__in=Appointment.LIVE_STATUSES,
            slot__starts_at__lt=ends_at,
            slot__ends_at__gt=starts_at,
        )
        .select_related("referral", "slot")
        .order_by("slot__starts_at")
    )


@transaction.atomic
def availability_rule_add(*, clinician: Clinician, window: WeeklyRule) -> AvailabilityRule:
    """Add a weekly rule and bring the clinician's slots in line with it."""
    rule = AvailabilityRule.objects.create(
        clinician=clinician,
        weekday=window.weekday,
        starts_at_time=window.starts_at_time,
        ends_at_time=window.ends_at_time,
        valid_from_on=window.valid_from_on,
        valid_until_on=window.valid_until_on,
    )
    slots_materialise(clinician_id=clinician.pk)
    return rule


@transaction.atomic
def availability_rule_delete(*, clinician: Clinician, rule_id: int) -> None:
    """Remove a weekly rule; its open slots go, slots with sessions stay but are not offered."""
    AvailabilityRule.objects.filter(clinician=clinician, pk=rule_id).delete()
    slots_materialise(clinician_id=clinician.pk)


@transaction.atomic
def time_off_add(
    *, clinician: Clinician, starts_at: dt.datetime, ends_at: dt.datetime, note: str
) -> TimeOff:
    """Record leave and withdraw the open slots inside it. Sessions already in it are left for a
    coordinator to move (see sessions_clashing_with)."""
    time_off = TimeOff.objects.create(
        clinician=clinician, starts_at=starts_at, ends_at=ends_at, note=note
    )
    slots_materialise(clinician_id=clinician.pk)
    return time_off


@transaction.atomic
def time_off_delete(*, clinician: Clinician, time_off_id: int) -> None:
    TimeOff.objects.filter(clinician=clinician, pk=time_off_id).delete()
    slots_materialise(clinician_id=clinician.pk)


@transaction.atomic
def clinician_capacity_set(*, clinician_id: int, weekly_capacity: int) -> Clinician:
    """Set the most sessions the clinician takes in a week. The matcher offers new sessions only
    in weeks below it; sessions already held stay, and no slot changes. Idempotent."""
    clinician = Clinician.objects.select_for_update().get(pk=clinician_id)
    clinician.weekly_capacity = weekly_capacity
    clinician.save(update_fields=["weekly_capacity"])
    return clinician


@transaction.atomic
def clinician_create(
    *, account: dict, profile: dict, programs, districts, facilities, base_url: str
) -> Clinician:
    """Create a clinician's staff account (no password yet, clinician group) and profile, and
    after commit email them a link to choose a password; two-factor set-up follows at their
    first sign-in."""
    user = get_user_model().objects.create_user(password=None, **account)
    user.groups.add(Group.objects.get(name=access.CLINICIAN))
    clinician = Clinician(user=user, **profile)
    clinician.full_clean()
    clinician.save()
    clinician.programs.set(programs)
    clinician.districts.set(districts)
    clinician.facilities.set(facilities)
    transaction.on_commit(lambda: staff_account_invite(user_id=user.pk, base_url=base_url))
    return clinician


@transaction.atomic
def clinician_update(
    *, clinician_id: int, profile: dict, programs, districts, facilities
) -> Clinician:
    """Save a clinician's profile; their slots follow a change of time zone or state."""
    clinician = Clinician.objects.select_for_update().get(pk=clinician_id)
    for name, value in profile.items():
        setattr(clinician, name, value)
    clinician.full_clean()
    clinician.save()
    clinician.programs.set(programs)
    clinician.districts.set(districts)
    clinician.facilities.set(facilities)
    slots_materialise(clinician_id=clinician.pk)
    return clinician


def staff_account_invite(*, user_id: int, base_url: str) -> None:
    """Email a new staff member a link to choose their password (the reset link, which lasts
    PASSWORD_RESET_TIMEOUT). Names no one in the subject."""
    user = get_user_model().objects.get(pk=user_id)
    path = reverse(
        "staff:password_reset_confirm",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": default_token_generator.make_token(user),
        },
    )
    body = render_to_string(
        "staff/email/account_invite.txt",
        {"link": f"{base_url}{path}", "hours": settings.PASSWORD_RESET_TIMEOUT // 3600},
    )
    send_mail("Set up your Sounding Board staff account", body, None, [user.email])


@dataclass(frozen=True)
class Deactivation:
    rematched: int
    to_move: list[Appointment]


@transaction.atomic
def clinician_deactivate(
    *, clinician_id: int, actor: AbstractBaseUser, disable_sign_in: bool
) -> Deactivation:
    """Stop offering the clinician to anyone.

    1. The clinician is marked inactive and off duty.
    2. Their unanswered proposals expire and each case goes back to the matcher (queued after
       commit), the clinician told through the usual hand-off.
    3. Their booked future sessions are returned for a coordinator to move; nothing changes
       for those people until a coordinator acts.
    4. With `disable_sign_in`, their account is disabled too, which ends their sessions.
    """
    clinician = Clinician.objects.select_for_update().get(pk=clinician_id)
    clinician.is_active = False
    clinician.is_on_duty = False
    clinician.save(update_fields=["is_active", "is_on_duty"])
    pending = Appointment.objects.select_for_update(of=("self",)).filter(
        clinician=clinician, status__in=(A.PROPOSED, A.TENTATIVE)
    )
    rematched = 0
    for appointment in pending:
        referral = Referral.objects.select_for_update().get(pk=appointment.referral_id)
        appointment_expire_and_rematch(
            referral, appointment, actor=actor, reason="clinician no longer taking sessions"
        )
        rematched += 1
    if disable_sign_in:
        staff_account_disable(user_id=clinician.user_id)
    to_move = list(
        Appointment.objects.filter(
            clinician=clinician, status=A.ACCEPTED, slot__starts_at__gte=timezone.now()
        ).select_related("referral", "slot")
    )
    return Deactivation(rematched=rematched, to_move=to_move)


@transaction.atomic
def clinician_reactivate(*, clinician_id: int, enable_sign_in: bool) -> None:
    """Offer the clinician to the matcher again, and with `enable_sign_in` let them sign in."""
    clinician = Clinician.objects.select_for_update().get(pk=clinician_id)
    clinician.is_active = True
    clinician.save(update_fields=["is_active"])
    if enable_sign_in:
        get_user_model().objects.filter(pk=clinician.user_id).update(is_active=True)


def staff_account_disable(*, user_id: int) -> None:
    """Disable a staff account. Its sessions stop working at once: an inactive account no longer
    resolves to a user, and the session middleware then flushes the session."""
    get_user_model().objects.filter(pk=user_id).update(is_active=False)
