"""Slot materialisation through Redis and a real Celery worker, into PostgreSQL."""

import datetime as dt
import time
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from scheduling.models import Slot
from scheduling.services import SlotsSummary, slots_materialise
from scheduling.tasks import slots_materialise_for_clinician
from tests.scheduling.factories import AvailabilityRuleFactory, ClinicianFactory


@pytest.mark.services
def test_a_real_worker_materialises_the_slots_a_queued_task_asks_for(celery_worker_process):
    clinician = ClinicianFactory()
    for weekday in range(7):
        AvailabilityRuleFactory(
            clinician=clinician,
            weekday=weekday,
            starts_at_time=dt.time(9),
            ends_at_time=dt.time(11),
            valid_from_on=timezone.localdate() - dt.timedelta(days=1),
        )

    slots_materialise_for_clinician.delay(clinician.pk)

    deadline = time.monotonic() + 30
    while not Slot.objects.filter(clinician=clinician).exists():
        assert celery_worker_process.poll() is None, "the worker died"
        assert time.monotonic() < deadline, "no slots appeared within 30 seconds"
        time.sleep(0.1)
    local_hours = {
        slot.starts_at.astimezone(ZoneInfo("Australia/Sydney")).hour
        for slot in Slot.objects.filter(clinician=clinician)
    }
    assert local_hours == {9, 10}
    # The worker did the whole job in one transaction: nothing is left to change.
    assert slots_materialise(clinician_id=clinician.pk) == SlotsSummary()
