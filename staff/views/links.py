"""Addresses on pages that list many cases: reversed once per page, then filled in per row.

reverse() costs about 30 µs and the dashboard needs three addresses on some of its 120 rows,
so each pattern is reversed once with stand-ins and every row's own values put in their place.
A reference is plain upper-case letters and digits, which reverse() would not quote; anything
else is reversed on its own.
"""

from django.urls import reverse

from ..selectors import SessionRow

_ANY_REFERENCE = "~reference~"  # never a reference: they are letters and digits
_ANY_ID = 987654321


class _Address:
    """One URL pattern taking a reference (and, for a session's pages, its id), kept as a
    format string: reverse() quotes braces, so the only ones in it are the two put there."""

    def __init__(self, name: str, *, with_id: bool) -> None:
        self.name, self.with_id = name, with_id
        args = [_ANY_REFERENCE, _ANY_ID] if with_id else [_ANY_REFERENCE]
        reversed_url = reverse(name, args=args).replace(_ANY_REFERENCE, "{reference}")
        self.template = reversed_url.replace(f"/{_ANY_ID}/", "/{pk}/")

    def __call__(self, reference: str, pk: int | None = None) -> str:
        if not (reference.isascii() and reference.isalnum()):
            return reverse(self.name, args=[reference, pk] if self.with_id else [reference])
        return self.template.format(reference=reference, pk=pk)


def case_links(rows) -> None:
    """Give each dashboard row (a CaseRow or a SessionRow) `case_url`, and each session row
    the addresses of its actions (`session_links`)."""
    case = _Address("coordinate:case", with_id=False)
    actions = _SessionActions()
    for row in rows:
        row.case_url = case(row.reference)
        if isinstance(row, SessionRow):
            actions.link(row, row.reference)


def session_links(appointments, *, reference: str) -> None:
    """Give each session of the case `reference` the addresses of its re-send and re-match
    actions (`resend_url`, `rematch_url`)."""
    actions = _SessionActions()
    for appointment in appointments:
        actions.link(appointment, reference)


class _SessionActions:
    def __init__(self) -> None:
        self.resend = _Address("coordinate:appointment_resend", with_id=True)
        self.rematch = _Address("coordinate:appointment_rematch", with_id=True)

    def link(self, appointment, reference: str) -> None:
        appointment.resend_url = self.resend(reference, appointment.pk)
        appointment.rematch_url = self.rematch(reference, appointment.pk)
