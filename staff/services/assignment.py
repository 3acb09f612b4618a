"""Which of the matcher's hard rules a coordinator's chosen clinician and slot would break.

The rules are the matcher's own (`scheduling.matching.breached_constraints`), judged on the
same view of the referral and the clinician the matcher reads, so a coordinator is warned of
exactly what the matcher would refuse. Most breaches only need a written reason (the
coordinator knows something the rules do not); those that make the assignment impossible are
marked `is_blocking`: the time is held, withdrawn or past, the clinician is inactive, or the
episode has used its sessions.
"""

import dataclasses
import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from referrals.limits import counted_statuses
from referrals.models import Referral
from scheduling.matching import (
    BREACH_LABELS,
    ClinicianProfile,
    Constraint,
    Need,
    SlotView,
    breached_constraints,
    week_start_on,
)
from scheduling.models import Appointment, Clinician, Slot
from scheduling.selectors import (
    HELD,
    clinician_profiles,
    matching_weights,
    need_of,
    referral_histories,
)

BLOCKING_CONSTRAINTS = frozenset({Constraint.INACTIVE, Constraint.NOT_OFFERED, Constraint.TAKEN})


@dataclass(frozen=True)
class Breach:
    code: str
    message: str
    is_blocking: bool = False


@dataclass
class AssignmentChecker:
    """Everything needed to judge any slot of one clinician for one referral, read once."""

    need: Need
    profile: ClinicianProfile
    taken_slot_ids: frozenset[int]
    session_limit: int | None
    sessions_after_assignment: int
    now: dt.datetime

    def breaches(self, slot: Slot) -> list[Breach]:
        view = SlotView(
            slot_id=slot.pk,
            clinician_id=slot.clinician_id,
            starts_at=slot.starts_at,
            ends_at=slot.ends_at,
            is_offered=slot.is_offered,
            is_open=slot.pk not in self.taken_slot_ids,
        )
        found = [
            Breach(str(constraint), BREACH_LABELS[constraint], constraint in BLOCKING_CONSTRAINTS)
            for constraint in breached_constraints(self.need, self.profile, view, now=self.now)
        ]
        if slot.starts_at <= self.now:
            found.append(Breach("slot_past", "This time has already started.", True))
        limit = self.session_limit
        if limit is not None and self.sessions_after_assignment > limit:
            message = (
                f"This would be session {self.sessions_after_assignment} of {limit}: "
                "raise the session limit first."
            )
            found.append(Breach("over_limit", message, True))
        return sorted(found, key=lambda b: (not b.is_blocking, b.code))


def assignment_checker(
    *, referral: Referral, clinician: Clinician, replacing_ids: frozenset[int] = frozenset()
) -> AssignmentChecker:
    """Read what judging this clinician's slots needs: a handful of queries, however many slots.

    `replacing_ids` are the referral's live sessions the assignment would cancel; they neither
    count against the clinician's week nor hold their slot.
    """
    now = timezone.now()
    need = need_of(referral, referral_histories([referral])[referral.pk])
    profile = clinician_profiles(
        [clinician.pk],
        now=now,
        start=now - dt.timedelta(days=7),
        end=now + dt.timedelta(weeks=settings.SLOT_HORIZON_WEEKS + 1),
        weights=matching_weights(),
    )[clinician.pk]
    replaced = Appointment.objects.filter(
        pk__in=replacing_ids, clinician=clinician, status__in=HELD
    ).values_list("slot__starts_at", flat=True)
    if replaced:
        booked = dict(profile.booked_by_week)
        for starts_at in replaced:
            week = week_start_on(starts_at, profile.time_zone)
            booked[week] = max(0, booked.get(week, 0) - 1)
        profile = dataclasses.replace(profile, booked_by_week=booked)
    episode = referral.episode
    return AssignmentChecker(
        need=need,
        profile=profile,
        taken_slot_ids=frozenset(
            Appointment.objects.exclude(pk__in=replacing_ids)
            .filter(slot__clinician=clinician, status__in=Appointment.LIVE_STATUSES)
            .values_list("slot_id", flat=True)
        ),
        session_limit=episode.session_limit if episode else None,
        sessions_after_assignment=sessions_counted(referral, excluding_ids=replacing_ids) + 1,
        now=now,
    )


def sessions_counted(referral: Referral, *, excluding_ids: frozenset[int] = frozenset()) -> int:
    """Sessions of the referral's episode that count against its limit: held or live, and late
    cancellations where the program counts them."""
    # The same rule as the matcher's: live sessions, and what the session limit counts.
    statuses = set(Appointment.LIVE_STATUSES) | counted_statuses(
        late_cancellation_uses_session=referral.program.late_cancellation_uses_session
    )
    scope = (
        {"referral__episode_id": referral.episode_id}
        if referral.episode_id
        else {"referral": referral}
    )
    return (
        Appointment.objects.filter(status__in=statuses, **scope)
        .exclude(pk__in=excluding_ids)
        .count()
    )
