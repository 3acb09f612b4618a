"""The MIME the outbox sends: written out exactly as Django's own policy would write it."""

import datetime as dt
from email.policy import compat32

import pytest
from hypothesis import given
from hypothesis import strategies as st

from notifications import emails, services
from notifications.emails import PLAIN_HEADER_POLICY, build_mime
from referrals.context_processors import CRISIS_LINES
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


def _ends_with_the_crisis_lines(rendered) -> bool:
    text_lines = [f"- {name}: {number}" for name, number in CRISIS_LINES]
    html_links = [
        f'<a href="tel:{number.replace(" ", "")}">{number}</a>' for _, number in CRISIS_LINES
    ]
    footer_text = rendered.text[rendered.text.index("not a crisis service") :]
    footer_html = rendered.html[rendered.html.index("not a crisis service") :]
    return all(line in footer_text for line in text_lines) and all(
        link in footer_html for link in html_links
    )


@pytest.mark.django_db
def test_every_message_to_a_referrer_ends_with_the_crisis_lines_and_a_clinicians_never_does():
    appointment = proposed_appointment()
    referral = appointment.referral
    to_referrer = [
        emails.confirmation(appointment, kind=kind) for kind in ("new", "update", "cancel")
    ]
    to_referrer.append(emails.reminder(appointment, is_clinician=False))
    to_referrer += [
        emails.referral_message(referral, name=name, follow_up_days=3, urgent_queue_url="/q/")
        for name in ("submitted", "unmatched", "over_limit", "withdrawn", "closed")
    ]
    for rendered in to_referrer:
        assert _ends_with_the_crisis_lines(rendered), rendered.subject
    to_clinician = [
        emails.reminder(appointment, is_clinician=True),
        emails.invitation(appointment, kind="new", links={"accept": "/a", "decline": "/d"}),
    ]
    for rendered in to_clinician:
        assert "not a crisis service" not in rendered.text + rendered.html
