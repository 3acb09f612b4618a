import pytest

from scheduling.models import Appointment
from staff.services.cases import CaseActionError, appointment_assign_manually
from tests.concurrency import run_at_once
from tests.referrals.factories import ReferralFactory
from tests.scheduling.factories import ClinicianFactory, SlotFactory
from tests.staff.factories import staff_user


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_coordinators_assigning_the_same_time_at_once_get_one_session_and_one_clear_no():
    coordinator = staff_user("coordinator")
    clinician = ClinicianFactory()
    slot = SlotFactory(clinician=clinician)
    referrals = [ReferralFactory(status="unmatched") for _ in range(2)]
    clinician.programs.set([r.program for r in referrals])
    outcomes = []

    def assign(referral):
        try:
            appointment_assign_manually(
                referral_id=referral.pk,
                slot_id=slot.pk,
                actor=coordinator,
                reason="Phoned and agreed",
                breaches_seen=frozenset(),
            )
            outcomes.append("assigned")
        except CaseActionError as error:
            outcomes.append(str(error))

    assert run_at_once([lambda r=r: assign(r) for r in referrals]) == []
    assert sorted(outcomes) == ["The time is already held by another session.", "assigned"]
    assert Appointment.objects.filter(slot=slot).count() == 1
