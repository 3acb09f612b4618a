import pytest

from referrals.workflow import IllegalTransition, referral_transition
from tests.referrals.factories import ReferralFactory


@pytest.mark.django_db
def test_a_new_referral_can_be_proposed_and_records_who_moved_it():
    referral = ReferralFactory()
    event = referral_transition(referral, "proposed", actor_label="system", reason="matched")
    referral.refresh_from_db()
    assert referral.status == "proposed"
    assert (event.from_status, event.to_status, event.reason) == ("new", "proposed", "matched")


@pytest.mark.django_db
def test_a_withdrawn_referral_cannot_be_booked():
    referral = ReferralFactory(status="withdrawn")
    with pytest.raises(IllegalTransition):
        referral_transition(referral, "booked")
