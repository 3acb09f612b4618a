"""The database, not luck, keeps two live appointments off one slot."""

import threading

import pytest
from django.db import IntegrityError, connection, transaction

from scheduling.models import Appointment
from scheduling.workflow import appointment_transition
from tests.conftest import wait_until_a_backend_waits_on_a_lock
from tests.referrals.factories import ReferralFactory
from tests.scheduling.factories import AppointmentFactory, SlotFactory

S = Appointment.Status
LIVE = list(Appointment.LIVE_STATUSES)
FINAL = [s for s in S if s not in Appointment.LIVE_STATUSES]


def propose(slot, referral=None):
    return Appointment.objects.create(
        referral=referral or ReferralFactory(status="proposed"),
        slot=slot,
        clinician=slot.clinician,
        session_number=1,
    )


@pytest.mark.django_db
@pytest.mark.parametrize("held_by", LIVE, ids=str)
def test_a_slot_held_by_a_live_appointment_cannot_take_another(held_by):
    held = AppointmentFactory(status=held_by)
    with pytest.raises(IntegrityError), transaction.atomic():
        propose(held.slot)
    assert Appointment.objects.filter(slot=held.slot).count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("ended_as", FINAL, ids=str)
def test_an_appointment_that_ended_leaves_its_slot_free_for_a_new_one(ended_as):
    ended = AppointmentFactory(status=ended_as)
    assert propose(ended.slot).status == S.PROPOSED
    assert Appointment.objects.filter(slot=ended.slot).count() == 2


@pytest.mark.django_db
def test_cancelling_a_proposal_frees_its_slot_for_another_referral():
    proposal = AppointmentFactory(status=S.PROPOSED)
    appointment_transition(proposal, S.CANCELLED, actor_label="coordinator", reason="test")
    replacement = propose(proposal.slot)
    assert list(
        Appointment.objects.filter(slot=proposal.slot, status__in=LIVE).values_list("pk", flat=True)
    ) == [replacement.pk]


def _open_transaction() -> None:
    # An atomic block sends BEGIN with its first statement; this makes the transaction real.
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_transactions_cannot_both_put_a_live_appointment_on_one_slot():
    """Both transactions are open at once; the second insert waits on the first's uncommitted
    row, and when the first commits it is refused by the partial unique index."""
    slot = SlotFactory()
    first_referral, second_referral = (
        ReferralFactory(status="proposed"),
        ReferralFactory(status="proposed"),
    )
    both_open = threading.Barrier(2, timeout=10)
    first_inserted, may_commit = threading.Event(), threading.Event()
    outcomes: dict[str, str] = {}

    def first() -> None:
        try:
            with transaction.atomic():
                _open_transaction()
                both_open.wait()
                propose(slot, first_referral)
                first_inserted.set()
                may_commit.wait(timeout=10)
            outcomes["first"] = "committed"
        except IntegrityError:
            outcomes["first"] = "IntegrityError"
        finally:
            connection.close()

    def second() -> None:
        try:
            with transaction.atomic():
                _open_transaction()
                both_open.wait()
                first_inserted.wait(timeout=10)
                propose(slot, second_referral)
            outcomes["second"] = "committed"
        except IntegrityError:
            outcomes["second"] = "IntegrityError"
        finally:
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    assert first_inserted.wait(timeout=10)
    was_blocked = wait_until_a_backend_waits_on_a_lock(10)
    may_commit.set()
    for thread in threads:
        thread.join(timeout=20)

    assert was_blocked, "the second insert never waited on the first transaction"
    assert outcomes == {"first": "committed", "second": "IntegrityError"}
    assert list(Appointment.objects.filter(slot=slot).values_list("referral", flat=True)) == [
        first_referral.pk
    ]
