"""Which of the matcher's hard rules a coordinator's chosen clinician and slot would break.

SEAM: the matching work brings its own hard-constraint check for manual assignments; point
`assignment_checker` at it when it lands. Until then this reads the rules of DESIGN §4 straight
from the models. Some breaches only need a written reason (the coordinator knows something the
rules do not); others make the assignment impossible and are marked `is_blocking`.
"""

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.db.models import Count
from django.db.models.functions import TruncDate
from django.utils import timezone

from referrals.limits import counted_statuses
from referrals.models import Referral
from referrals.windows import is_within_windows
from scheduling.models import Appointment, Clinician, Slot

A = Appointment.Status
# Sessions that take up a place in a clinician's week.
LOAD_STATUSES = (*Appointment.LIVE_STATUSES, A.COMPLETED, A.NO_SHOW)


@dataclass(frozen=True)
class Breach:
    code: str
    message: str
    is_blocking: bool = False


@dataclass
class AssignmentChecker:
    """Everything needed to judge any slot of one clinician for one referral, read once."""

    referral: Referral
    clinician: Clinician
    program_ids: frozenset[int]
    district_ids: frozenset[int]
    facility_ids: frozenset[int]
    has_declined_before: bool
    taken_slot_ids: frozenset[int]
    load_by_week: Counter
    sessions_after_assignment: int
    now: dt.datetime

    def breaches(self, slot: Slot) -> list[Breach]:
        found = [*self._slot_breaches(slot), *self._clinician_breaches(), *self._fit(slot)]
        return sorted(found, key=lambda b: (not b.is_blocking, b.code))

    def _slot_breaches(self, slot: Slot) -> list[Breach]:
        found = []
        if slot.starts_at <= self.now:
            found.append(Breach("slot_past", "This time has already started.", True))
        if slot.pk in self.taken_slot_ids:
            found.append(Breach("slot_taken", "Someone else holds this time.", True))
        if not slot.is_offered:
            found.append(
                Breach("slot_withdrawn", "The clinician no longer offers this time.", True)
            )
        limit = self.referral.episode.session_limit if self.referral.episode else None
        if limit is not None and self.sessions_after_assignment > limit:
            message = (
                f"This would be session {self.sessions_after_assignment} of {limit}: "
                "raise the session limit first."
            )
            found.append(Breach("over_limit", message, True))
        return found

    def _clinician_breaches(self) -> list[Breach]:
        referral, found = self.referral, []
        if not self.clinician.is_active:
            found.append(Breach("inactive", "This clinician is not taking sessions.", True))
        if referral.program_id not in self.program_ids:
            found.append(Breach("program", f"Does not offer {referral.program.short_name}."))
        own = {referral.workplace_district_id, referral.employer_district_id} - {None}
        if own & self.district_ids:
            found.append(Breach("own_district", "Works in the referrer's own district."))
        if referral.workplace_facility_id and referral.workplace_facility_id in self.facility_ids:
            found.append(Breach("own_facility", "Works at the referrer's own workplace."))
        if self.has_declined_before:
            found.append(Breach("declined_before", "Has already declined this referral."))
        return found

    def _fit(self, slot: Slot) -> list[Breach]:
        referral, program, found = self.referral, self.referral.program, []
        person_zone = ZoneInfo(referral.time_zone)
        local_start = slot.starts_at.astimezone(person_zone)
        local_end = slot.ends_at.astimezone(person_zone)
        if not is_within_windows(local_start, local_end, referral.preferred_windows):
            found.append(Breach("outside_windows", "Outside the times the referrer asked for."))
        notice_hours = (
            program.min_notice_hours
            if referral.priority == Referral.Priority.ROUTINE
            else program.priority_min_notice_hours
        )
        if slot.starts_at < self.now + dt.timedelta(hours=notice_hours):
            found.append(Breach("short_notice", f"Less than {notice_hours} hours' notice."))
        load = self.load_by_week[week_of(slot.starts_at, self.clinician.time_zone)]
        if load >= self.clinician.weekly_capacity:
            message = f"Already {load} of {self.clinician.weekly_capacity} sessions that week."
            found.append(Breach("capacity", message))
        return found


def week_of(moment: dt.datetime, time_zone: str) -> dt.date:
    """The Monday of the week `moment` falls in, in the clinician's own zone."""
    local = moment.astimezone(ZoneInfo(time_zone)).date()
    return local - dt.timedelta(days=local.weekday())


def assignment_checker(
    *, referral: Referral, clinician: Clinician, replacing_ids: frozenset[int] = frozenset()
) -> AssignmentChecker:
    """Read what judging this clinician's slots needs: a handful of queries, however many slots.

    `replacing_ids` are the referral's live sessions the assignment would cancel; they neither
    count against the clinician's week nor hold their slot.
    """
    now = timezone.now()
    kept = Appointment.objects.exclude(pk__in=replacing_ids)
    load = (
        kept.filter(
            clinician=clinician,
            status__in=LOAD_STATUSES,
            slot__starts_at__gte=now - dt.timedelta(days=7),
        )
        .annotate(day=TruncDate("slot__starts_at", tzinfo=ZoneInfo(clinician.time_zone)))
        .values("day")
        .annotate(n=Count("pk"))
    )
    load_by_week = Counter()
    for row in load:
        load_by_week[row["day"] - dt.timedelta(days=row["day"].weekday())] += row["n"]
    return AssignmentChecker(
        referral=referral,
        clinician=clinician,
        program_ids=frozenset(clinician.programs.values_list("pk", flat=True)),
        district_ids=frozenset(clinician.districts.values_list("pk", flat=True)),
        facility_ids=frozenset(clinician.facilities.values_list("pk", flat=True)),
        has_declined_before=Appointment.objects.filter(
            referral=referral, clinician=clinician, status=A.DECLINED
        ).exists(),
        taken_slot_ids=frozenset(
            kept.filter(
                slot__clinician=clinician, status__in=Appointment.LIVE_STATUSES
            ).values_list("slot_id", flat=True)
        ),
        load_by_week=load_by_week,
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
