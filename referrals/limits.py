"""Session limits: which sessions of an episode count against the program's limit.

Pure rules over appointment statuses, so referrals needs no import from scheduling; the status
names are those of scheduling.models.Appointment.Status (a test keeps the two in step).
"""

from collections.abc import Iterable

# A session that took place or is booked always uses one of the episode's sessions.
ALWAYS_COUNTED = frozenset({"completed", "accepted"})
# Missed without enough notice: counted only when the program says a late cancellation uses up
# a session (a no-show is the latest cancellation of all).
COUNTED_WHEN_LATE_CANCELLATION_USES_SESSION = frozenset({"late_cancelled", "no_show"})


def counted_statuses(*, late_cancellation_uses_session: bool) -> frozenset[str]:
    """The appointment statuses that use one of the episode's sessions under this setting."""
    if late_cancellation_uses_session:
        return ALWAYS_COUNTED | COUNTED_WHEN_LATE_CANCELLATION_USES_SESSION
    return ALWAYS_COUNTED


def sessions_used(statuses: Iterable[str], *, late_cancellation_uses_session: bool) -> int:
    """How many of the episode's appointments, given by status, count against its limit."""
    counted = counted_statuses(late_cancellation_uses_session=late_cancellation_uses_session)
    return sum(1 for status in statuses if status in counted)


def is_over_limit(*, used: int, limit: int) -> bool:
    """True when no session remains for a new request."""
    return used >= limit


def normalise_email(email: str) -> str:
    """The form of an address used to find a person's episode: trimmed and lower-cased.

    Lower-casing the local part is not strictly right by RFC 5321, but no mail provider our
    referrers use treats case as significant there, and one person must map to one episode.
    """
    return email.strip().lower()
