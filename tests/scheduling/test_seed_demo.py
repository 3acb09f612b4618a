"""seed_demo: demo clinicians, slots, cases and logins, only in demo mode, safe to run twice."""

import datetime as dt
import io
import re
from collections import Counter

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.utils import timezone

from referrals.models import Referral
from scheduling.models import Appointment, Clinician, Slot

pytestmark = pytest.mark.django_db


def seed(**options) -> str:
    out = io.StringIO()
    call_command("seed_demo", stdout=out, **options)
    return out.getvalue()


def test_seed_demo_refuses_to_run_outside_demo_mode(settings):
    settings.DEMO_MODE = False
    with pytest.raises(CommandError, match="DEMO_MODE"):
        seed()
    assert not Clinician.objects.exists()
    assert not get_user_model().objects.filter(username="coordinator").exists()


def test_seed_demo_spreads_clinicians_over_programs_states_and_roles(settings):
    settings.DEMO_MODE = True
    seed()
    clinicians = list(Clinician.objects.prefetch_related("programs", "districts"))
    assert len(clinicians) >= 40
    roles_by_program = Counter(
        (program.code, role) for c in clinicians for program in c.programs.all() for role in c.roles
    )
    assert roles_by_program["dup", "coach"] >= 10
    assert roles_by_program["jmo-support-line", "senior_clinician"] >= 10
    assert roles_by_program["drs4drs", "counsellor"] >= 10
    assert {d.state for c in clinicians for d in c.districts.all()} == {"NSW", "VIC"}
    counsellors = [c for c in clinicians if "counsellor" in c.roles]
    assert all(c.registration_body and c.registration_number for c in counsellors)
    assert {c.registration_body for c in counsellors} == {"AHPRA", "AASW", "ACA", "PACFA"}
    assert any(c.is_on_duty for c in counsellors)
    assert len({c.gender for c in clinicians}) >= 3
    assert len({c.weekly_capacity for c in clinicians}) >= 3
    assert {(c.offers_phone, c.offers_video) for c in clinicians} >= {(True, False), (False, True)}
    future = Slot.objects.filter(is_offered=True, starts_at__gte=timezone.now())
    assert set(future.values_list("clinician", flat=True)) == {c.pk for c in clinicians}
    assert future.latest("starts_at").starts_at - timezone.now() > dt.timedelta(weeks=7)


def test_seed_demo_prints_logins_that_open_the_admin_and_the_clinician_record(settings, client):
    settings.DEMO_MODE = True
    output = seed(site_url="http://127.0.0.1:8765")
    assert "http://127.0.0.1:8765/admin/" in output
    assert "coordinator / demo-coordinator-pass" in output
    assert "clinician / demo-clinician-pass" in output
    backup_code = re.search(r"coordinator: (\S+)", output).group(1)

    client.post("/staff/sign-in/", {"username": "coordinator", "password": "demo-coordinator-pass"})
    client.post("/staff/code/", {"token": backup_code})
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/referrals/referral/").status_code == 200
    clinician_user = get_user_model().objects.get(username="clinician")
    assert clinician_user.check_password("demo-clinician-pass")
    assert clinician_user.clinician.is_active
    assert clinician_user.groups.filter(name="clinician").exists()
    assert not clinician_user.is_staff


def test_seed_demo_twice_changes_nothing_and_keeps_cases_in_their_statuses(settings):
    settings.DEMO_MODE = True
    seed()

    def snapshot():
        return (
            sorted(Clinician.objects.values_list("pk", flat=True)),
            sorted(Slot.objects.values_list("pk", flat=True)),
            sorted(Referral.objects.values_list("reference", "status")),
            sorted(Appointment.objects.values_list("pk", "status")),
        )

    before = snapshot()
    seed()
    assert snapshot() == before
    statuses = {status for _, status in before[2]}
    assert {"new", "unmatched", "diverted", "held", "proposed", "booked"} <= statuses
    assert {status for _, status in before[3]} == {"proposed", "accepted"}
