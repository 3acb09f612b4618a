"""A burst of submissions: match tasks coalesce into batches rather than matching one by one."""

import datetime as dt

import pytest
from celery.exceptions import Retry
from django.core.cache import cache
from django.test import override_settings
from django.utils import timezone

from notifications.models import OutboundMessage
from referrals.models import Referral
from scheduling import tasks
from scheduling.models import Appointment
from tests.referrals.factories import DistrictFactory, ProgramFactory, ReferralFactory
from tests.scheduling.factories import ClinicianFactory, SlotFactory

pytestmark = pytest.mark.django_db


def waiting_referrals(count: int) -> list[Referral]:
    """`count` new referrals whose match was asked for, and a clinician with a time for each."""
    program = ProgramFactory()
    clinician = ClinicianFactory(programs=[program], districts=[DistrictFactory()])
    start = (timezone.now() + dt.timedelta(days=3)).replace(minute=0, second=0, microsecond=0)
    for hour in range(count):
        starts_at = start + dt.timedelta(hours=hour)
        SlotFactory(
            clinician=clinician, starts_at=starts_at, ends_at=starts_at + dt.timedelta(hours=1)
        )
    referrals = [ReferralFactory(program=program) for _ in range(count)]
    Referral.objects.filter(pk__in=[r.pk for r in referrals]).update(
        status=Referral.Status.NEW, match_requested_at=timezone.now()
    )
    return referrals


@override_settings(MATCH_COALESCE_MIN_WAITING=5)
def test_one_match_task_in_a_burst_proposes_every_waiting_referral_once():
    referrals = waiting_referrals(6)
    tasks.match_referral(referrals[0].pk)
    proposed = Appointment.objects.filter(status="proposed")
    assert sorted(proposed.values_list("referral_id", flat=True)) == sorted(r.pk for r in referrals)
    assert proposed.values("slot").distinct().count() == 6
    assert {a.match_explanation["mode"] for a in proposed} == {"batch"}
    for referral in referrals[1:]:  # their own tasks, arriving later, change nothing
        tasks.match_referral(referral.pk)
    assert Appointment.objects.count() == 6
    assert OutboundMessage.objects.filter(kind="invitation").count() == 6


@override_settings(MATCH_COALESCE_MIN_WAITING=5)
def test_while_another_worker_batches_a_match_task_waits_and_proposes_nothing():
    referrals = waiting_referrals(6)
    cache.add(tasks._COALESCE_LOCK, "another worker", timeout=60)
    try:
        with pytest.raises(Retry):
            tasks.match_referral(referrals[0].pk)
    finally:
        cache.delete(tasks._COALESCE_LOCK)
    assert not Appointment.objects.exists()


@override_settings(MATCH_COALESCE_MIN_WAITING=5)
def test_below_the_burst_size_a_referral_is_matched_alone():
    referrals = waiting_referrals(4)
    tasks.match_referral(referrals[0].pk)
    [appointment] = Appointment.objects.all()
    assert appointment.referral_id == referrals[0].pk
    assert appointment.match_explanation["mode"] == "single"


@override_settings(MATCH_COALESCE_MIN_WAITING=5)
def test_exactly_the_burst_size_waiting_is_a_burst():
    referrals = waiting_referrals(5)
    tasks.match_referral(referrals[-1].pk)
    proposed = Appointment.objects.filter(status="proposed")
    assert proposed.count() == 5
    assert {a.match_explanation["mode"] for a in proposed} == {"batch"}


def test_a_task_for_a_referral_deleted_meanwhile_does_nothing():
    [referral] = waiting_referrals(1)
    referral.delete()
    tasks.match_referral(referral.pk)
    assert not Appointment.objects.exists()
