"""Fault 1: Redis stopped while people send referrals through the wizard.

The database is the source of truth: each referral is saved and confirmed to the person even
though neither the broker nor the cache answers, and once Redis is back the sweeper finds every
one of them and a real worker matches each exactly once. The Redis here is the test's own.
"""

import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import pytest
from django.db import connection, transaction
from django.db.models import Count
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from referrals.models import District, Program, Referral
from scheduling.models import Appointment
from scheduling.tasks import match_referral, match_sweep
from tests.faults.harness import PrivateRedis, celery_broker, celery_worker, wait_until
from tests.referrals.factories import reference_data_ensure
from tests.referrals.wizard import SELF_STEPS, Wizard, routine_answers
from tests.scheduling.factories import ClinicianFactory, SlotFactory

pytestmark = pytest.mark.services

PEOPLE = 100
BROWSERS = 16  # people sending at the same time


def _clinicians_with_room(program, *, people: int) -> None:
    """Enough clinicians and free times outside the referrers' district for everyone."""
    district = District.objects.exclude(code="sydney-lhd").order_by("pk").first()
    start = (timezone.now() + dt.timedelta(days=3)).replace(minute=0, second=0, microsecond=0)
    for number in range(10):
        clinician = ClinicianFactory(
            programs=[program], districts=[district], weekly_capacity=people
        )
        for hour in range(people // 10 + 2):
            SlotFactory(
                clinician=clinician, starts_at=start + dt.timedelta(hours=hour, days=number)
            )


def _send_referral(number: int) -> tuple[int, str]:
    """One person through every step; returns the confirmation page's status and text. Errors
    come back as pages, as a browser would get them from a server."""
    try:
        wizard = Wizard(Client(raise_request_exception=False))
        answers = routine_answers(email=f"fault{number}@example.test")
        answers["preferences"]["preferred_windows"] = []  # any time suits
        for step in SELF_STEPS:
            response = wizard.post(step, answers[step])
            if response.status_code != 302:
                return response.status_code, response.content.decode(errors="replace")
        confirmation = wizard.client.get(reverse("referrals:refer_sent"))
        return confirmation.status_code, confirmation.content.decode()
    finally:
        connection.close()


def _send_while_redis_is_down(redis: PrivateRedis, people: int) -> list[tuple[int, str]]:
    """Stop the private Redis (broker and cache) and send `people` referrals at once."""
    redis_cache = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis.url,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    with (
        celery_broker(redis.url),
        override_settings(CACHES=redis_cache, REFERRAL_SUBMISSIONS_PER_IP=people + 1),
    ):
        redis.stop()
        with ThreadPoolExecutor(BROWSERS) as browsers:
            return list(browsers.map(_send_referral, range(people)))


def test_referrals_sent_while_redis_is_down_are_all_saved_confirmed_and_matched_once_it_is_back(
    transactional_db, private_redis, tmp_path
):
    reference_data_ensure()
    _clinicians_with_room(Program.objects.get(code="dup"), people=PEOPLE)

    pages = _send_while_redis_is_down(private_redis, PEOPLE)

    saved = Referral.objects.all()
    assert saved.count() == PEOPLE
    assert set(saved.values_list("status", flat=True)) == {Referral.Status.NEW}
    references = set(saved.values_list("reference", flat=True))
    assert [status for status, _ in pages] == [200] * PEOPLE
    shown = {ref for _, page in pages for ref in references if ref in page}
    assert shown == references, "someone did not see their own reference"
    assert not Appointment.objects.exists()

    private_redis.start()
    with (
        celery_worker(
            broker_url=private_redis.url,
            log=tmp_path / "worker.log",
            name="fault-redis",
            MATCH_STUCK_AFTER_MINUTES="0",
        ) as worker,
        celery_broker(private_redis.url),
    ):
        match_sweep.delay()
        wait_until(
            lambda: saved.filter(status=Referral.Status.PROPOSED).count() == PEOPLE,
            seconds=90,
            what=f"not all {PEOPLE} referrals were proposed a session",
            log=worker.log,
        )
    # The sweeper again, now with nothing left behind: it proposes nothing twice.
    with override_settings(MATCH_STUCK_AFTER_MINUTES=0):
        match_sweep()
    per_referral = Appointment.objects.values("referral").annotate(n=Count("pk"))
    assert sorted(row["n"] for row in per_referral) == [1] * PEOPLE
    assert Appointment.objects.values("slot").distinct().count() == PEOPLE


def test_control_the_harness_sees_a_server_error_when_the_hand_off_is_not_robust(
    transactional_db, private_redis, monkeypatch
):
    """The hand-off as it was before this fault test: on_commit(partial(...), robust=True), which
    Django cannot log (a partial has no __qualname__), so the person got a server error."""
    from notifications.services import referral_notify
    from referrals import views

    def hand_off_before_the_fix(*, draft, safety, intake_by=None):
        with transaction.atomic():
            referral = views.referral_submit(draft=draft, safety=safety, intake_by=intake_by)
            referral_notify(referral_id=referral.pk, change="submitted")
            transaction.on_commit(partial(match_referral.delay, referral.pk), robust=True)
        return referral

    monkeypatch.setattr(views, "referral_submit_and_follow_up", hand_off_before_the_fix)
    reference_data_ensure()

    pages = _send_while_redis_is_down(private_redis, 3)

    assert [status for status, _ in pages] == [500] * 3
    assert Referral.objects.count() == 3  # saved, yet each person was shown an error
