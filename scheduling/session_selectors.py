"""Reads for a session's lifecycle: the cancellation rule as it applies now, the sessions an
episode has left, and the times a session may move to.

The hard rules come from the matching engine (scheduling.matching) and its selectors, so a time
offered here is one the matcher itself could have proposed, except that the referrer's preferred
windows do not narrow it: the person (or a coordinator) is choosing the time themselves.
"""

import dataclasses
import datetime as dt
from dataclasses import dataclass

from django.conf import settings

from referrals import limits
from referrals.models import Referral
from referrals.selectors import episode_appointment_statuses

from .matching import ClinicianProfile, Constraint, Need, SlotTable, SlotView, breached_constraints
from .matching import week_start_on as week_of
from .models import Appointment, Slot
from .selectors import (
    CandidateTimes,
    clinician_profiles,
    matching_weights,
    need_of,
    profile_span,
    referral_histories,
)

A = Appointment.Status
R = Referral.Status
LIVE = Appointment.LIVE_STATUSES


@dataclass(frozen=True)
class CancellationTerms:
    """The program's notice rule for one session, as it stands at one moment."""

    notice_hours: int
    late_from_at: dt.datetime
    is_late: bool
    late_cancellation_uses_session: bool

    @property
    def uses_session(self) -> bool:
        """Whether cancelling now uses up one of the episode's sessions."""
        return self.is_late and self.late_cancellation_uses_session


def cancellation_terms(appointment: Appointment, *, now: dt.datetime) -> CancellationTerms:
    """What cancelling this session now means for the referrer. Only a confirmed (accepted)
    session can be cancelled late: less than the program's notice before it starts."""
    program = appointment.referral.program
    notice = dt.timedelta(hours=program.cancellation_notice_hours)
    late_from_at = appointment.slot.starts_at - notice
    return CancellationTerms(
        notice_hours=program.cancellation_notice_hours,
        late_from_at=late_from_at,
        is_late=appointment.status == A.ACCEPTED and now > late_from_at,
        late_cancellation_uses_session=program.late_cancellation_uses_session,
    )


@dataclass(frozen=True)
class SessionCount:
    used: int
    limit: int

    @property
    def left(self) -> int:
        return max(self.limit - self.used, 0)


def session_count(referral: Referral) -> SessionCount:
    """Sessions of the referral's episode that count against its limit (referrals.limits), and
    the limit. `referral.program` and `referral.episode` should be loaded."""
    if referral.episode_id is not None:
        statuses = episode_appointment_statuses(episode_id=referral.episode_id)
        limit = referral.episode.session_limit
    else:
        statuses = list(referral.appointments.values_list("status", flat=True))
        limit = referral.program.session_limit
    used = limits.sessions_used(
        statuses, late_cancellation_uses_session=referral.program.late_cancellation_uses_session
    )
    return SessionCount(used=used, limit=limit)


def next_session_refusal(referral: Referral) -> str:
    """Why the next session of this case cannot be asked for now, in the referrer's words;
    empty when it can: the case is booked or held, has no live session and has sessions left."""
    status = referral.status
    if status in (R.CLOSED, R.WITHDRAWN):
        return "This request is closed."
    if status == R.DIVERTED:
        return "A coordinator will contact you about what happens next."
    if status in (R.NEW, R.UNMATCHED):
        return "We are already looking for a time for you."
    if status == R.PROPOSED or referral.appointments.filter(status__in=LIVE).exists():
        return "Your next session is already booked or being arranged."
    count = session_count(referral)
    if count.left == 0:
        return (
            f"You have used all {count.limit} sessions. A coordinator can talk with you about "
            "other support."
        )
    return ""


# --- Moving a session -------------------------------------------------------------------------


@dataclass(frozen=True)
class MoveOptions:
    """Times a session may move to: its own clinician's first, then other clinicians'."""

    same_clinician: list[Slot]
    other_clinicians: list[Slot]


def _need_for_move(appointment: Appointment) -> Need:
    referral = appointment.referral
    history = referral_histories([referral])[referral.pk]
    need = need_of(referral, history)
    # The session's own clinician may have let an earlier proposal lapse; they hold this one.
    asked = need.excluded_clinician_ids - {appointment.clinician_id}
    return dataclasses.replace(need, windows=(), excluded_clinician_ids=asked)


def _profiles(
    appointment: Appointment, table: SlotTable, *, now: dt.datetime
) -> dict[int, ClinicianProfile]:
    """Clinicians' loads by week, not counting the session being moved (it frees its place)."""
    start, end = profile_span(table, now)
    ids = set(table.clinician_ids.tolist()) | {appointment.clinician_id}
    profiles = clinician_profiles(ids, now=now, start=start, end=end, weights=matching_weights())
    own = profiles[appointment.clinician_id]
    week = week_of(appointment.slot.starts_at, own.time_zone)
    booked = dict(own.booked_by_week)
    if appointment.status in Appointment.LIVE_STATUSES and booked.get(week):
        booked[week] -= 1
    profiles[own.clinician_id] = dataclasses.replace(own, booked_by_week=booked)
    return profiles


def _feasible_ids(
    need: Need, table: SlotTable, profiles: dict[int, ClinicianProfile], *, now: dt.datetime
) -> list[int]:
    feasible = []
    for slot_id, clinician_id, starts_s, ends_s in zip(
        table.slot_ids.tolist(),
        table.clinician_ids.tolist(),
        table.starts_at.tolist(),
        table.ends_at.tolist(),
        strict=True,
    ):
        view = SlotView(
            slot_id,
            clinician_id,
            dt.datetime.fromtimestamp(starts_s, dt.UTC),
            dt.datetime.fromtimestamp(ends_s, dt.UTC),
        )
        if not breached_constraints(need, profiles[clinician_id], view, now=now):
            feasible.append(slot_id)
    return feasible


def _slots(ids: list[int]) -> list[Slot]:
    found = Slot.objects.select_related("clinician").in_bulk(ids)
    return [found[pk] for pk in ids]


def move_options(appointment: Appointment, *, now: dt.datetime) -> MoveOptions:
    """The open times this session could move to, soonest first, at most
    SESSION_MOVE_OPTIONS_SHOWN of each kind: the same clinician's, then other clinicians' who
    may see this referral. Every hard rule of the matcher applies except preferred windows.
    `appointment` needs its referral (with program), slot and clinician loaded."""
    shown = settings.SESSION_MOVE_OPTIONS_SHOWN
    need = _need_for_move(appointment)
    candidates = CandidateTimes(need, now=now)
    own = candidates.of_clinician(appointment.clinician_id)
    page = candidates.page(limit=shown * 4)
    others = page.take(
        [i for i, c in enumerate(page.clinician_ids.tolist()) if c != appointment.clinician_id]
    )
    profiles = _profiles(appointment, own.concat(others), now=now)
    return MoveOptions(
        same_clinician=_slots(_feasible_ids(need, own, profiles, now=now)[:shown]),
        other_clinicians=_slots(_feasible_ids(need, others, profiles, now=now)[:shown]),
    )


def move_breaches(appointment: Appointment, slot: Slot, *, now: dt.datetime) -> list[Constraint]:
    """The matcher's hard rules that moving this session to `slot` would break (preferred
    windows aside); empty when the move is allowed. `slot` should be locked by the caller."""
    need = _need_for_move(appointment)
    is_open = not slot.appointments.filter(status__in=Appointment.LIVE_STATUSES).exists()
    table = SlotTable.from_rows([(slot.pk, slot.clinician_id, slot.starts_at, slot.ends_at)])
    profile = _profiles(appointment, table, now=now)[slot.clinician_id]
    view = SlotView(
        slot.pk, slot.clinician_id, slot.starts_at, slot.ends_at, slot.is_offered, is_open
    )
    return breached_constraints(need, profile, view, now=now)
