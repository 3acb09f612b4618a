"""A match's first read: a matchable referral locked, with the history and burst flag a match
needs, equal to what the separate reads (referral_histories, referral_status_and_burst) say."""

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from referrals.models import Referral
from referrals.selectors import referral_status_and_burst
from scheduling.models import Appointment
from scheduling.selectors import (
    referral_histories,
    referral_locked_for_matching,
    referral_status,
)
from tests.referrals.factories import ProgramFactory, ReferralFactory
from tests.scheduling.factories import AppointmentFactory, ClinicianFactory
from tests.scheduling.test_candidate_times import slot_at

pytestmark = pytest.mark.django_db
A = Appointment.Status


class _RolledBack(Exception):
    pass


sessions = st.lists(
    st.tuples(
        st.integers(0, 2),  # which referral of the episode
        st.integers(0, 2),  # which clinician
        st.sampled_from([A.PROPOSED, A.ACCEPTED, A.DECLINED, A.EXPIRED, A.COMPLETED, A.NO_SHOW]),
        st.integers(30, 24 * 7 * 3),  # hours from now
    ),
    max_size=7,
    unique_by=lambda session: session[3],
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    sessions=sessions,
    in_one_episode=st.booleans(),
    asked=st.integers(0, 2),
    waiting=st.integers(0, 4),
    burst_size=st.integers(1, 4),
)
def test_the_locked_read_says_what_the_separate_reads_say(
    sessions, in_one_episode, asked, waiting, burst_size
):
    try:
        with transaction.atomic():
            program = ProgramFactory(code="read")
            first = ReferralFactory(program=program, status=Referral.Status.CLOSED)
            episode = first.episode if in_one_episode else None
            referrals = [first] + [
                ReferralFactory(
                    program=program,
                    status=Referral.Status.NEW,
                    **({"episode": episode} if episode else {}),
                )
                for _ in range(2)
            ]
            ReferralFactory.create_batch(
                waiting,
                program=program,
                status=Referral.Status.NEW,
                match_requested_at=timezone.now(),
            )
            clinicians = [ClinicianFactory(programs=[program]) for _ in range(3)]
            for which, clinician, status, hours in sessions:
                AppointmentFactory(
                    referral=referrals[which],
                    clinician=clinicians[clinician],
                    slot=slot_at(clinicians[clinician], hours),
                    status=status,
                )
            referral = referrals[asked]

            read = referral_locked_for_matching(referral.pk, burst_size=burst_size)

            if referral.status == Referral.Status.CLOSED:  # cannot be matched: not even locked
                assert read is None
                assert referral_status(referral.pk) == Referral.Status.CLOSED
                raise _RolledBack
            assert read.referral.pk == referral.pk
            assert read.history == referral_histories([referral])[referral.pk]
            assert (
                read.is_burst
                == referral_status_and_burst(referral_id=referral.pk, burst_size=burst_size)[1]
            )
            assert referral_locked_for_matching(referral.pk).is_burst is False
            raise _RolledBack
    except _RolledBack:
        pass
