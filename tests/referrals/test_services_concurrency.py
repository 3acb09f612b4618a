"""Submissions racing for the same person on PostgreSQL: one episode, every referral saved."""

import threading

import pytest
from django.db import connection

from referrals.models import Episode, Program, Referral
from referrals.services import referral_submit
from tests.referrals.factories import reference_data_ensure
from tests.referrals.test_services import ROUTINE, draft

SUBMISSIONS = 6


@pytest.mark.postgres
def test_simultaneous_referrals_from_one_person_share_one_episode(transactional_db):
    reference_data_ensure()
    program = Program.objects.get(code="drs4drs")
    start = threading.Barrier(SUBMISSIONS)
    errors = []

    def submit():
        try:
            start.wait(timeout=10)
            referral_submit(draft=draft(program, "Same.Person@example.test"), safety=ROUTINE)
        except Exception as error:  # reported below, with the others
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(SUBMISSIONS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert Referral.objects.count() == SUBMISSIONS
    assert Episode.objects.filter(email_normalised="same.person@example.test").count() == 1
