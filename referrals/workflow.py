"""The referral state machine: which status may follow which, and the one place that moves it.

Initial statuses are those a new referral may be created in. Every change goes through
`referral_transition`, which records who moved it, when and why.
"""

from collections.abc import Mapping

from django.contrib.auth.models import AbstractBaseUser

from .models import Referral, ReferralEvent

S = Referral.Status

INITIAL_STATUSES = frozenset({S.NEW, S.DIVERTED, S.HELD})

REFERRAL_TRANSITIONS: Mapping[str, frozenset[str]] = {
    S.NEW: frozenset({S.PROPOSED, S.UNMATCHED, S.HELD, S.DIVERTED, S.WITHDRAWN, S.CLOSED}),
    S.DIVERTED: frozenset({S.NEW, S.PROPOSED, S.CLOSED, S.WITHDRAWN}),
    S.HELD: frozenset({S.NEW, S.PROPOSED, S.CLOSED, S.WITHDRAWN}),
    S.UNMATCHED: frozenset({S.NEW, S.PROPOSED, S.HELD, S.CLOSED, S.WITHDRAWN}),
    S.PROPOSED: frozenset({S.BOOKED, S.NEW, S.UNMATCHED, S.HELD, S.CLOSED, S.WITHDRAWN}),
    S.BOOKED: frozenset({S.PROPOSED, S.NEW, S.HELD, S.CLOSED, S.WITHDRAWN}),
    S.CLOSED: frozenset(),
    S.WITHDRAWN: frozenset(),
}


class IllegalTransition(Exception):
    """A status change the state machine does not allow."""

    def __init__(self, kind: str, from_status: str, to_status: str) -> None:
        super().__init__(f"{kind} cannot go from {from_status!r} to {to_status!r}")
        self.from_status = from_status
        self.to_status = to_status


def check_transition(
    transitions: Mapping[str, frozenset[str]], kind: str, from_status: str, to_status: str
) -> None:
    """Raise IllegalTransition unless `transitions` allows from_status → to_status."""
    if to_status not in transitions.get(from_status, frozenset()):
        raise IllegalTransition(kind, from_status, to_status)


def referral_transition(
    referral: Referral,
    to_status: str,
    *,
    actor: AbstractBaseUser | None = None,
    actor_label: str = "system",
    reason: str = "",
) -> ReferralEvent:
    """Move the referral to `to_status`, save it and record the event.

    The caller holds the transaction (and, where it matters, a row lock on the referral).
    Raises IllegalTransition for a change the machine does not allow.
    """
    from_status = referral.status
    check_transition(REFERRAL_TRANSITIONS, "Referral", from_status, to_status)
    referral.status = to_status
    referral.save(update_fields=["status", "updated_at"])
    return ReferralEvent.objects.create(
        referral=referral,
        from_status=from_status,
        to_status=to_status,
        actor=actor if actor is not None and actor.is_authenticated else None,
        actor_label=actor_label,
        reason=reason[:500],
    )


def referral_record_creation(
    referral: Referral, *, actor: AbstractBaseUser | None = None, actor_label: str, reason: str = ""
) -> ReferralEvent:
    """Record the status a referral was created in; it must be one of INITIAL_STATUSES."""
    if referral.status not in INITIAL_STATUSES:
        raise IllegalTransition("Referral", "", referral.status)
    return ReferralEvent.objects.create(
        referral=referral,
        to_status=referral.status,
        actor=actor if actor is not None and actor.is_authenticated else None,
        actor_label=actor_label,
        reason=reason[:500],
    )
