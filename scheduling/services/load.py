"""The sessions each clinician week holds (ClinicianWeek), kept in step with appointments.

A single match filters out full weeks with these counts (by each worker's copy of the full
weeks, and in the clinicians' profiles); capacity itself is checked against the appointments
when the chosen time is locked, so a count that drifted can only hide a week from a match
until the sweeper recounts it, never overfill one.
"""

import datetime as dt
from collections import Counter
from collections.abc import Iterable

import numpy as np
from django.db import connection, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from ..matching import week_bounds, week_start_on, week_starts
from ..models import Appointment, Clinician, ClinicianWeek, Slot
from ..selectors import EpochSeconds, among, full_weeks_changed

A = Appointment.Status
# Sessions that used or hold an hour of the clinician's week (see docs/matching.md).
HELD_STATUSES = frozenset((A.PROPOSED, A.TENTATIVE, A.ACCEPTED, A.COMPLETED, A.NO_SHOW))
UPSERT_ROWS = 500  # rows per INSERT … ON CONFLICT statement

WeekKey = tuple[int, dt.date]


def _weeks_of(rows: Iterable[tuple[int, dt.datetime, str]]) -> tuple[Counter, dict[int, str]]:
    """(clinician id, slot start, clinician zone) rows → sessions per clinician week."""
    counts: Counter[WeekKey] = Counter()
    zones: dict[int, str] = {}
    for clinician_id, starts_at, time_zone in rows:
        counts[(clinician_id, week_start_on(starts_at, time_zone))] += 1
        zones[clinician_id] = time_zone
    return counts, zones


def _upsert(changes: Counter, zones: dict[int, str], *, is_increment: bool) -> None:
    """Add each change to its week's count (or set it), creating missing weeks, and copy the
    clinician's capacity as it is now: one INSERT … ON CONFLICT per UPSERT_ROWS weeks, the
    same SQL on PostgreSQL and SQLite."""
    if not is_increment or len(changes) > 1 or any(count < 0 for count in changes.values()):
        full_weeks_changed()  # a week may have room again, or many filled at once
    table = connection.ops.quote_name(ClinicianWeek._meta.db_table)
    held = f"{table}.held + excluded.held" if is_increment else "excluded.held"
    items = sorted(changes.items())  # one lock order for every writer
    for first in range(0, len(items), UPSERT_ROWS):
        chunk = items[first : first + UPSERT_ROWS]
        params: list = []
        for (clinician_id, monday), count in chunk:
            starts_at, ends_at = week_bounds(monday, zones[clinician_id])
            params += [clinician_id, monday, starts_at, ends_at, count, clinician_id]
        values = ", ".join([f"(%s, %s, %s, %s, %s, {CAPACITY_NOW})"] * len(chunk))
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (clinician_id, week_start_on, starts_at, ends_at, held,"
                f" capacity) VALUES {values} ON CONFLICT (clinician_id, week_start_on) "
                f"DO UPDATE SET held = {held}, capacity = excluded.capacity",
                params,
            )


# A clinician's weekly capacity, for a ClinicianWeek row written with the clinician's id as
# its parameter.
CAPACITY_NOW = (
    f"(SELECT c.{Clinician._meta.get_field('weekly_capacity').column}"
    f" FROM {Clinician._meta.db_table} AS c WHERE c.{Clinician._meta.pk.column} = %s)"
)


def clinician_weeks_capacity_copy(*, clinician_ids: Iterable[int] | None = None) -> int:
    """Copy each clinician's weekly capacity onto their weeks whose copy differs (of the
    given clinicians, or of all): after a change of capacity, and at the sweeper's recount
    for a change that bypassed signals. One statement; returns the weeks changed."""
    weeks = ClinicianWeek.objects.exclude(capacity=Subquery(_capacity_of_clinician()))
    if clinician_ids is not None:
        weeks = weeks.filter(clinician_id__in=list(clinician_ids))
    changed = weeks.update(capacity=Subquery(_capacity_of_clinician()))
    if changed:
        full_weeks_changed()
    return changed


def _capacity_of_clinician():
    return Clinician.objects.filter(pk=OuterRef("clinician_id")).values("weekly_capacity")[:1]


@transaction.atomic(savepoint=False)
def clinician_weeks_adjust(*, slot_ids: Iterable[int], delta: int) -> None:
    """Add `delta` sessions to the week of each slot (its clinician's week, in their zone):
    +1 when an appointment starts holding a slot, -1 when it stops (declined, expired,
    cancelled), -1 and +1 when a session moves to another slot.

    Call it in the transaction that makes the change; appointment_transition calls it for
    every status change, so callers add it only where they create an appointment or change
    its slot. Writes only ClinicianWeek rows, in one statement per few hundred weeks.
    """
    slot_ids = list(slot_ids)
    if not slot_ids or delta == 0:
        return
    per_slot = Counter(slot_ids)
    rows = list(
        Slot.objects.filter(among("pk", per_slot))
        .annotate(starts_at_s=EpochSeconds("starts_at"))
        .values_list("pk", "clinician_id", "starts_at_s", "clinician__time_zone")
    )
    counts: Counter[WeekKey] = Counter()
    zones: dict[int, str] = {}
    # Weeks placed one zone at a time: a batch writes ten thousand sessions at once.
    for zone in sorted({row[3] for row in rows}):
        of_zone = [row for row in rows if row[3] == zone]
        mondays, index = week_starts(zone, np.array([row[2] for row in of_zone], np.int64))
        for (pk, clinician_id, _starts, _zone), week in zip(of_zone, index.tolist(), strict=True):
            counts[(clinician_id, mondays[week])] += delta * per_slot[pk]
            zones[clinician_id] = zone
    _upsert(counts, zones, is_increment=True)


def clinician_week_add(clinician_id: int, starts_at: dt.datetime, time_zone: str) -> None:
    """clinician_weeks_adjust(slot_ids=[…], delta=1) for one slot whose start and clinician's
    zone are at hand: one statement."""
    _upsert(
        Counter({(clinician_id, week_start_on(starts_at, time_zone)): 1}),
        {clinician_id: time_zone},
        is_increment=True,
    )


@transaction.atomic
def clinician_weeks_recount(
    *, clinician_ids: Iterable[int] | None = None, now: dt.datetime | None = None
) -> int:
    """Count again, from the appointments, the sessions of every week from this one on (of
    the given clinicians, or of all), and store the counts. The sweeper runs it so a change
    that bypassed clinician_weeks_adjust heals by itself. Idempotent; returns the weeks
    written."""
    now = now or timezone.now()
    since = now - dt.timedelta(days=8)
    appointments = Appointment.objects.filter(
        status__in=HELD_STATUSES, slot__starts_at__gte=since
    ).values_list("clinician_id", "slot__starts_at", "clinician__time_zone")
    weeks = ClinicianWeek.objects.filter(ends_at__gt=since)
    if clinician_ids is not None:
        clinician_ids = list(clinician_ids)
        appointments = appointments.filter(clinician_id__in=clinician_ids)
        weeks = weeks.filter(clinician_id__in=clinician_ids)
    counts, zones = _weeks_of(appointments)
    stale = weeks.exclude(held=0).values_list(
        "clinician_id", "week_start_on", "clinician__time_zone"
    )
    for clinician_id, monday, time_zone in stale:
        counts.setdefault((clinician_id, monday), 0)
        zones.setdefault(clinician_id, time_zone)
    counts = Counter({key: held for key, held in counts.items() if key[1] >= since.date()})
    _upsert(counts, zones, is_increment=False)
    clinician_weeks_capacity_copy(clinician_ids=clinician_ids)
    return len(counts)
