"""Turning what happened into messages. Each function writes outbox rows in the caller's
transaction; sending happens after commit."""


def appointment_notify(*, appointment_id: int, change: str) -> None:
    """Queue the messages an appointment change calls for (the calendar issue fills this in).

    `change` is one of: proposed, accepted, declined, tentative, cancelled, rescheduled, expired.
    """


def referral_notify(*, referral_id: int, change: str) -> None:
    """Queue the messages a referral change calls for (the calendar issue fills this in).

    `change` is one of: submitted, diverted, unmatched, over_limit, withdrawn, closed. "diverted"
    alerts the on-call coordinator at once, with no personal details in the subject.
    """
