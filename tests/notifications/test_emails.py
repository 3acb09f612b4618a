"""The MIME the outbox sends: written out exactly as Django's own policy would write it."""

import datetime as dt
from email.policy import compat32

import pytest
from hypothesis import given
from hypothesis import strategies as st

from notifications import services
from notifications.emails import PLAIN_HEADER_POLICY, build_mime
from tests.notifications.factories import proposed_appointment

HEADER_NAMES = st.sampled_from(["Subject", "To", "From", "Content-Type", "Message-ID", "X-A"])


def _folded(policy, name, value):
    try:
        return policy.fold_binary(name, value)
    except Exception as error:  # compat32 refuses some values; the policy must refuse them too
        return type(error)


@given(name=HEADER_NAMES, value=st.text(max_size=120))
def test_a_header_is_written_as_compat32_writes_it(name, value):
    for linesep in ("\n", "\r\n"):
        plain, django = PLAIN_HEADER_POLICY.clone(linesep=linesep), compat32.clone(linesep=linesep)
        assert _folded(plain, name, value) == _folded(django, name, value)


@pytest.mark.django_db
@pytest.mark.parametrize("with_calendar", [True, False])
def test_an_invitation_is_the_same_bytes_as_compat32_would_write(with_calendar):
    appointment = proposed_appointment()
    [message] = services.appointment_notify(appointment_id=appointment.pk, change="proposed")
    mime = build_mime(
        subject=f"{message.subject} – a long subject that has to be folded over two lines",
        from_email="Sounding Board <calendar@example.test>",
        to=message.recipient,
        message_id=message.message_id,
        text=message.body_text,
        html=message.body_html,
        sent_at=dt.datetime(2026, 12, 1, 9, 30, tzinfo=dt.UTC),
        ical_text=message.ical_text if with_calendar else "",
        ical_method=message.ical_method if with_calendar else "",
    )
    written = mime.as_bytes(linesep="\r\n")
    mime.policy = compat32
    assert written == mime.as_bytes(linesep="\r\n")
    assert b"\r\n =?utf-8?q?" in written  # the subject needed encoding and folding
