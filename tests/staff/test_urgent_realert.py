import datetime as dt

import pytest
import time_machine

from referrals.models import Referral, ReferralEvent
from staff.models import UrgentRealert
from staff.tasks import urgent_realert_sweep
from tests.referrals.factories import ReferralFactory

pytestmark = pytest.mark.django_db
START = dt.datetime(2026, 6, 1, 2, 0, tzinfo=dt.UTC)


@pytest.fixture
def alerts(monkeypatch):
    """What the sweep hands to the notifications hand-off (the calendar work sends the email)."""
    sent = []
    monkeypatch.setattr(
        "staff.services.alerts.referral_notify",
        lambda *, referral_id, change: sent.append((referral_id, change)),
    )
    return sent


def _urgent_at(moment: dt.datetime) -> Referral:
    with time_machine.travel(moment, tick=False):
        referral = ReferralFactory(status="diverted", priority="urgent")
        ReferralEvent.objects.create(referral=referral, to_status="diverted", actor_label="system")
    return referral


def test_an_urgent_case_unacknowledged_for_15_minutes_re_alerts_the_on_call_address(alerts):
    referral = _urgent_at(START)
    with time_machine.travel(START + dt.timedelta(minutes=14), tick=False):
        assert urgent_realert_sweep() == 0
    with time_machine.travel(START + dt.timedelta(minutes=15), tick=False):
        assert urgent_realert_sweep() == 1
    assert alerts == [(referral.pk, "urgent_unacknowledged")]


def test_the_sweep_running_every_minute_sends_each_re_alert_once(alerts):
    _urgent_at(START)
    for minute in range(15, 30):
        with time_machine.travel(START + dt.timedelta(minutes=minute), tick=False):
            urgent_realert_sweep()
            urgent_realert_sweep()
    assert len(alerts) == 1
    assert UrgentRealert.objects.get().times_sent == 1


def test_a_case_still_unacknowledged_re_alerts_each_interval_up_to_the_limit(alerts, settings):
    settings.STAFF_URGENT_REALERT_MAX_TIMES = 3
    _urgent_at(START)
    for minute in range(0, 120):
        with time_machine.travel(START + dt.timedelta(minutes=minute), tick=False):
            urgent_realert_sweep()
    assert len(alerts) == 3
    record = UrgentRealert.objects.get()
    assert record.last_sent_at == START + dt.timedelta(minutes=45)


def test_an_acknowledged_case_does_not_re_alert(alerts, coordinator):
    referral = _urgent_at(START)
    Referral.objects.filter(pk=referral.pk).update(
        urgent_acknowledged_at=START + dt.timedelta(minutes=5), urgent_acknowledged_by=coordinator
    )
    with time_machine.travel(START + dt.timedelta(minutes=20), tick=False):
        assert urgent_realert_sweep() == 0
    assert alerts == []


def test_the_clock_starts_when_the_case_became_urgent(alerts):
    with time_machine.travel(START, tick=False):
        referral = ReferralFactory(status="new")
    with time_machine.travel(START + dt.timedelta(hours=2), tick=False):
        Referral.objects.filter(pk=referral.pk).update(status="diverted")
        ReferralEvent.objects.create(referral=referral, to_status="diverted", actor_label="system")
        assert urgent_realert_sweep() == 0
    with time_machine.travel(START + dt.timedelta(hours=2, minutes=15), tick=False):
        assert urgent_realert_sweep() == 1
