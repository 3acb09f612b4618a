"""Materialising a clinician's availability rules into concrete slots."""

import datetime as dt
import functools
from dataclasses import dataclass
from typing import NamedTuple
from zoneinfo import ZoneInfo

import holidays
from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from ..availability import Session, WeeklyRule, sessions_from_rules
from ..models import Appointment, AvailabilityRule, Clinician, Slot, TimeOff
from ..selectors import offered_times_changed


@dataclass(frozen=True)
class SlotsSummary:
    """What one materialisation changed, in numbers of slots."""

    created: int = 0
    deleted: int = 0
    withdrawn: int = 0
    reoffered: int = 0


class _Existing(NamedTuple):
    pk: int
    starts_at: dt.datetime
    ends_at: dt.datetime
    is_offered: bool
    is_referred_to: bool

    @property
    def times(self) -> tuple[dt.datetime, dt.datetime]:
        return (self.starts_at, self.ends_at)


@transaction.atomic
def slots_materialise(*, clinician_id: int, today: dt.date | None = None) -> SlotsSummary:
    """Make the clinician's future slots match what their rules produce over the horizon.

    The horizon is SLOT_HORIZON_WEEKS of the clinician's local dates from `today` (default: today
    in their zone), less the public holidays of their `holiday_state` and their time off; an
    inactive clinician's rules produce nothing. Among slots from the horizon's start onwards:
    1. slots the rules no longer produce are deleted, unless an appointment (of any status)
       refers to one: that slot is kept, its times and appointment untouched, is_offered=False;
    2. a kept slot the rules produce again is offered again;
    3. missing slots are created.
    Slots before the horizon are never touched. Idempotent: a second run changes nothing.
    Concurrent runs for one clinician wait for each other. Sends nothing.
    """
    clinician = Clinician.objects.select_for_update(no_key=True).get(pk=clinician_id)
    zone = ZoneInfo(clinician.time_zone)
    first_on = today or timezone.localdate(timezone=zone)
    last_on = first_on + dt.timedelta(weeks=settings.SLOT_HORIZON_WEEKS, days=-1)
    wanted = {
        (s.starts_at, s.ends_at)
        for s in _produced_sessions(clinician, first_on=first_on, last_on=last_on)
    }
    existing = _slots_from(clinician, dt.datetime.combine(first_on, dt.time(), tzinfo=zone))
    unwanted = [slot for slot in existing if slot.times not in wanted]
    deleted_ids = _delete_if_still_free([s.pk for s in unwanted if not s.is_referred_to])
    withdrawn = Slot.objects.filter(
        pk__in=[s.pk for s in unwanted if s.pk not in deleted_ids], is_offered=True
    ).update(is_offered=False)
    reoffered = Slot.objects.filter(
        pk__in=[s.pk for s in existing if s.times in wanted and not s.is_offered]
    ).update(is_offered=True)
    remaining = [slot for slot in existing if slot.pk not in deleted_ids]
    created = _create_missing(clinician, wanted=wanted, remaining=remaining)
    if created or deleted_ids or withdrawn or reoffered:
        offered_times_changed()
    return SlotsSummary(
        created=created, deleted=len(deleted_ids), withdrawn=withdrawn, reoffered=reoffered
    )


def _slots_from(clinician: Clinician, starts_at: dt.datetime) -> list[_Existing]:
    rows = (
        Slot.objects.filter(clinician=clinician, starts_at__gte=starts_at)
        .annotate(is_referred_to=Exists(Appointment.objects.filter(slot=OuterRef("pk"))))
        .values_list("pk", "starts_at", "ends_at", "is_offered", "is_referred_to")
    )
    return [_Existing(*row) for row in rows]


def _produced_sessions(
    clinician: Clinician, *, first_on: dt.date, last_on: dt.date
) -> list[Session]:
    if not clinician.is_active:
        return []
    zone = ZoneInfo(clinician.time_zone)
    rules = [
        WeeklyRule(*values)
        for values in AvailabilityRule.objects.filter(
            Q(valid_until_on__isnull=True) | Q(valid_until_on__gte=first_on),
            clinician=clinician,
            valid_from_on__lte=last_on,
        ).values_list(
            "weekday", "starts_at_time", "ends_at_time", "valid_from_on", "valid_until_on"
        )
    ]
    if not rules:
        return []
    time_off = TimeOff.objects.filter(
        clinician=clinician,
        starts_at__lt=dt.datetime.combine(last_on + dt.timedelta(days=1), dt.time(), tzinfo=zone),
        ends_at__gt=dt.datetime.combine(first_on, dt.time(), tzinfo=zone),
    ).values_list("starts_at", "ends_at")
    return _sessions(clinician, rules, list(time_off), first_on=first_on, last_on=last_on)


def _sessions(clinician: Clinician, rules, time_off, *, first_on, last_on) -> list[Session]:
    return sessions_from_rules(
        rules=rules,
        time_off=time_off,
        holiday_dates=public_holiday_dates(clinician.holiday_state, first_on.year, last_on.year),
        time_zone=clinician.time_zone,
        session_minutes=settings.SLOT_MINUTES,
        first_on=first_on,
        last_on=last_on,
    )


def slots_preview(
    *,
    clinician: Clinician,
    rules: list[WeeklyRule],
    time_off: list[tuple[dt.datetime, dt.datetime]],
    now: dt.datetime | None = None,
) -> list[Session]:
    """The future sessions these rules and this leave would give the clinician over the
    horizon: exactly what `slots_materialise` would offer if they were saved. Reads and changes
    nothing, so coordinators and clinicians can see the effect of an edit before saving it."""
    now = now or timezone.now()
    first_on = timezone.localdate(now, timezone=ZoneInfo(clinician.time_zone))
    last_on = first_on + dt.timedelta(weeks=settings.SLOT_HORIZON_WEEKS, days=-1)
    sessions = _sessions(clinician, rules, time_off, first_on=first_on, last_on=last_on)
    return [session for session in sessions if session.starts_at > now]


@functools.lru_cache(maxsize=64)
def public_holiday_dates(state: str, first_year: int, last_year: int) -> frozenset[dt.date]:
    """Public holidays of an Australian state or territory, from the `holidays` package."""
    years = range(first_year, last_year + 1)
    return frozenset(holidays.country_holidays("AU", subdiv=state, years=years))


def _delete_if_still_free(slot_ids: list[int]) -> set[int]:
    """Delete those of the slots no appointment refers to once they are locked; return their ids.

    The row lock keeps a concurrent proposal from taking a slot between the check and the delete.
    """
    if not slot_ids:
        return set()
    locked = set(
        Slot.objects.select_for_update().filter(pk__in=slot_ids).values_list("pk", flat=True)
    )
    taken = set(Appointment.objects.filter(slot_id__in=locked).values_list("slot_id", flat=True))
    free = locked - taken
    Slot.objects.filter(pk__in=free).delete()
    return free


def _create_missing(
    clinician: Clinician,
    *,
    wanted: set[tuple[dt.datetime, dt.datetime]],
    remaining: list[_Existing],
) -> int:
    # A kept slot may hold a wanted start with another length; its start stays its own.
    taken_starts = {slot.starts_at for slot in remaining}
    missing = sorted(times for times in wanted if times[0] not in taken_starts)
    Slot.objects.bulk_create(
        [Slot(clinician=clinician, starts_at=start, ends_at=end) for start, end in missing]
    )
    return len(missing)
