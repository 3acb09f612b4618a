"""The encrypted database session engine: saving a changed session."""

import datetime as dt

import pytest
import time_machine
from django.contrib.sessions.backends.base import UpdateError
from django.contrib.sessions.models import Session
from django.db import connection
from django.test.utils import CaptureQueriesContext

from privacy.sessions import SessionStore

pytestmark = pytest.mark.django_db


def test_a_changed_session_is_read_back_and_its_expiry_moves_on():
    with time_machine.travel("2026-12-01 09:00Z", tick=False):
        session = SessionStore()
        session["step"] = "about-you"
        session.create()
        first_expiry = Session.objects.get(pk=session.session_key).expire_date
    with time_machine.travel("2026-12-01 10:00Z", tick=False):
        session["step"] = "check"
        with CaptureQueriesContext(connection) as captured:
            session.save()
        assert SessionStore(session_key=session.session_key).load() == {"step": "check"}
    assert [q["sql"].split()[0] for q in captured.captured_queries] == ["UPDATE"]
    stored = Session.objects.get(pk=session.session_key)
    assert stored.expire_date - first_expiry == dt.timedelta(hours=1)


def test_a_session_gone_meanwhile_is_not_written_back():
    session = SessionStore()
    session["step"] = "about-you"
    session.create()
    Session.objects.filter(pk=session.session_key).delete()  # signed out in another tab
    session["step"] = "check"
    with pytest.raises(UpdateError):
        session.save()
    assert not Session.objects.exists()


def test_an_expired_session_reads_as_a_new_one():
    with time_machine.travel("2026-12-01 09:00Z", tick=False):
        session = SessionStore()
        session["step"] = "check"
        session.set_expiry(60)
        session.create()
    with time_machine.travel("2026-12-01 09:02Z", tick=False):
        returning = SessionStore(session_key=session.session_key)
        assert returning.load() == {}
        assert returning.session_key is None  # a new key when it is next saved
        assert SessionStore(session_key="no-such-key").load() == {}
