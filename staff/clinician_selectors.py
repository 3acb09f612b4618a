"""Reads for the clinician portal and the deletion requests list: each decides its own joins,
so a page costs a fixed number of queries however many sessions it lists."""

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Exists, OuterRef, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone

from privacy.models import RetentionRecord
from referrals.models import Referral
from scheduling.models import Appointment, Clinician
from scheduling.selectors import HELD

A = Appointment.Status
WAITING = (A.PROPOSED, A.TENTATIVE)
PAST = (A.COMPLETED, A.NO_SHOW, A.LATE_CANCELLED, A.CANCELLED)


@dataclass(frozen=True)
class ClinicianSessions:
    waiting: list[Appointment]
    upcoming: list[Appointment]
    to_mark: list[Appointment]
    past: list[Appointment]


def _sessions_of(clinician: Clinician) -> QuerySet[Appointment]:
    return Appointment.objects.filter(clinician=clinician).select_related(
        "slot", "referral__program", "referral__episode"
    )


def clinician_sessions(clinician: Clinician, *, now: dt.datetime) -> ClinicianSessions:
    """The clinician's own sessions: proposals waiting for their answer, booked ones to come,
    booked ones that have started and need marking, and the last CLINICIAN_PAST_SESSIONS_DAYS
    of finished ones. Two queries."""
    since = now - dt.timedelta(days=settings.CLINICIAN_PAST_SESSIONS_DAYS)
    current = list(
        _sessions_of(clinician)
        .filter(status__in=(*WAITING, A.ACCEPTED))
        .order_by("slot__starts_at", "pk")
    )
    past = list(
        _sessions_of(clinician)
        .filter(status__in=PAST, slot__starts_at__gte=since, slot__starts_at__lt=now)
        .order_by("-slot__starts_at", "-pk")
    )
    return ClinicianSessions(
        waiting=[a for a in current if a.status in WAITING and a.slot.starts_at > now],
        upcoming=[a for a in current if a.status == A.ACCEPTED and a.slot.starts_at > now],
        to_mark=[a for a in current if a.status == A.ACCEPTED and a.slot.starts_at <= now],
        past=past,
    )


def clinician_session(clinician: Clinician, appointment_id: int) -> Appointment | None:
    """One of the clinician's own sessions, with what its page shows; None for anyone else's."""
    return (
        _sessions_of(clinician).select_related("referral__triage").filter(pk=appointment_id).first()
    )


def weekly_load(clinician: Clinician, *, today: dt.date | None = None) -> list[tuple[dt.date, int]]:
    """(Monday, sessions held) for each week of the slot horizon, in the clinician's zone: what
    a change of weekly capacity would be measured against. One query."""
    zone = ZoneInfo(clinician.time_zone)
    today = today or timezone.localdate(timezone=zone)
    first = today - dt.timedelta(days=today.weekday())
    weeks = [first + dt.timedelta(weeks=n) for n in range(settings.SLOT_HORIZON_WEEKS)]
    starts_at = dt.datetime.combine(first, dt.time(), tzinfo=zone)
    ends_at = dt.datetime.combine(weeks[-1] + dt.timedelta(weeks=1), dt.time(), tzinfo=zone)
    days = (
        Appointment.objects.filter(
            clinician=clinician,
            status__in=HELD,
            slot__starts_at__gte=starts_at,
            slot__starts_at__lt=ends_at,
        )
        .annotate(day=TruncDate("slot__starts_at", tzinfo=zone))
        .values_list("day", flat=True)
    )
    held = Counter(day - dt.timedelta(days=day.weekday()) for day in days)
    return [(monday, held[monday]) for monday in weeks]


def deletion_requests_pending() -> QuerySet[Referral]:
    """Referrals whose person asked for deletion and that are not de-identified yet, oldest
    request first."""
    done = RetentionRecord.objects.filter(referral_id=OuterRef("pk"))
    return (
        Referral.objects.filter(deletion_requested_at__isnull=False)
        .exclude(Exists(done))
        .select_related("program")
        .order_by("deletion_requested_at", "pk")
    )
