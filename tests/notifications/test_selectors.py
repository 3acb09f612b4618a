import pytest

from notifications import inbound, selectors, services
from tests.notifications import replies
from tests.notifications.factories import proposed_appointment

pytestmark = pytest.mark.django_db


def test_a_case_timeline_lists_what_was_sent_and_what_came_back():
    appointment = proposed_appointment()
    other = proposed_appointment()
    for each in (appointment, other):
        services.appointment_notify(appointment_id=each.pk, change="proposed")
    services.referral_notify(referral_id=appointment.referral_id, change="submitted")
    text = replies.reply_text(
        uid=appointment.ical_uid, attendee="mailto:someone.else@calendar.test"
    )
    inbound.message_receive(replies.google_reply(text, "x@y.test"), source="imap")

    sent = selectors.messages_for_referral(referral_id=appointment.referral_id)
    assert [m.kind for m in sent] == ["invitation", "submitted"]
    [reply] = selectors.replies_for_referral(referral_id=appointment.referral_id)
    assert (reply.outcome, reply.message.source) == ("other_attendee", "imap")
