"""Turning what happened into messages. Each function writes outbox rows in the caller's
transaction; sending happens after commit."""


def appointment_notify(*, appointment_id: int, change: str) -> None:
    """Queue the messages an appointment change calls for (the calendar issue fills this in).

    `change` is one of: proposed, accepted, declined, tentative, cancelled, rescheduled, expired.
    """
