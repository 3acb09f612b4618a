"""Submissions racing for the same person on PostgreSQL: one episode, every referral saved."""

import pytest

from referrals.models import Episode, Program, Referral
from referrals.services import referral_submit
from tests.concurrency import run_at_once
from tests.referrals.factories import reference_data_ensure
from tests.referrals.test_services import ROUTINE, draft

SUBMISSIONS = 6


@pytest.mark.postgres
def test_simultaneous_referrals_from_one_person_share_one_episode(transactional_db):
    reference_data_ensure()
    program = Program.objects.get(code="drs4drs")

    def submit():
        referral_submit(draft=draft(program, "Same.Person@example.test"), safety=ROUTINE)

    errors = run_at_once([submit] * SUBMISSIONS)
    assert errors == []
    assert Referral.objects.count() == SUBMISSIONS
    assert Episode.objects.filter(email_normalised="same.person@example.test").count() == 1
