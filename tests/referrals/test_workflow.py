"""The referral state machine over the full status × status matrix."""

import pytest
from django.contrib.auth.models import AnonymousUser

from referrals.models import Referral, ReferralEvent
from referrals.workflow import (
    INITIAL_STATUSES,
    REFERRAL_TRANSITIONS,
    IllegalTransition,
    referral_record_creation,
    referral_transition,
)
from tests.referrals.factories import ReferralFactory
from tests.scheduling.factories import UserFactory

pytestmark = pytest.mark.django_db

STATUSES = list(Referral.Status)
PAIRS = [(a, b) for a in STATUSES for b in STATUSES]
ALLOWED = [(a, b) for a, b in PAIRS if b in REFERRAL_TRANSITIONS[a]]
FORBIDDEN = [(a, b) for a, b in PAIRS if b not in REFERRAL_TRANSITIONS[a]]


def test_the_machine_names_every_status_and_only_known_targets():
    assert set(REFERRAL_TRANSITIONS) == set(STATUSES)
    assert all(targets <= set(STATUSES) for targets in REFERRAL_TRANSITIONS.values())


def test_closed_and_withdrawn_referrals_are_final():
    assert not REFERRAL_TRANSITIONS[Referral.Status.CLOSED]
    assert not REFERRAL_TRANSITIONS[Referral.Status.WITHDRAWN]


@pytest.mark.parametrize(("from_status", "to_status"), ALLOWED, ids=lambda s: str(s))
def test_an_allowed_transition_moves_the_referral_and_records_who_when_and_why(
    from_status, to_status
):
    referral = ReferralFactory(status=from_status)
    coordinator = UserFactory()

    event = referral_transition(
        referral, to_status, actor=coordinator, actor_label="coordinator", reason="checked"
    )

    referral.refresh_from_db()
    assert referral.status == to_status
    stored = ReferralEvent.objects.get(referral=referral)
    assert stored == event
    assert (stored.from_status, stored.to_status) == (from_status, to_status)
    assert (stored.actor, stored.actor_label, stored.reason) == (
        coordinator,
        "coordinator",
        "checked",
    )
    assert stored.occurred_at is not None


@pytest.mark.parametrize(("from_status", "to_status"), FORBIDDEN, ids=lambda s: str(s))
def test_a_forbidden_transition_raises_and_leaves_the_referral_unchanged(from_status, to_status):
    referral = ReferralFactory(status=from_status)
    updated_at = referral.updated_at

    with pytest.raises(IllegalTransition) as raised:
        referral_transition(referral, to_status, actor_label="system")

    assert (raised.value.from_status, raised.value.to_status) == (from_status, to_status)
    assert referral.status == from_status
    referral.refresh_from_db()
    assert (referral.status, referral.updated_at) == (from_status, updated_at)
    assert not ReferralEvent.objects.filter(referral=referral).exists()


def test_an_anonymous_actor_is_recorded_by_label_only():
    referral = ReferralFactory()
    event = referral_transition(
        referral, "withdrawn", actor=AnonymousUser(), actor_label="referrer"
    )
    assert (event.actor, event.actor_label) == (None, "referrer")


def test_an_overlong_reason_is_cut_to_what_the_history_holds():
    event = referral_transition(ReferralFactory(), "held", reason="x" * 900)
    event.refresh_from_db()
    assert len(event.reason) == 500


@pytest.mark.parametrize("status", STATUSES, ids=str)
def test_a_referral_may_only_be_created_in_an_initial_status(status):
    referral = ReferralFactory(status=status)
    if status in INITIAL_STATUSES:
        event = referral_record_creation(referral, actor_label="referrer", reason="wizard")
        assert (event.from_status, event.to_status, event.reason) == ("", status, "wizard")
    else:
        with pytest.raises(IllegalTransition):
            referral_record_creation(referral, actor_label="referrer")
        assert not ReferralEvent.objects.exists()
