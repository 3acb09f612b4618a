import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client
from django.urls import reverse

from scheduling.models import Appointment, Clinician, Slot
from scheduling.selectors import (
    clinicians_version_publish,
    full_weeks_version_publish,
    offered_times_version_publish,
)
from tests.referrals.factories import DistrictFactory, ProgramFactory, ReferralFactory
from tests.scheduling.factories import AppointmentFactory, SlotFactory
from tests.staff.factories import PASSWORD, clinician_user, sign_in_verified

pytestmark = pytest.mark.django_db
SYDNEY = ZoneInfo("Australia/Sydney")
MONDAY_MORNING = dt.datetime(2026, 3, 2, 8, 0, tzinfo=SYDNEY)


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(MONDAY_MORNING, tick=False) as traveller:
        yield traveller


def _profile(prefix="clinician", **overrides):
    program = ProgramFactory(code="dup")
    district = DistrictFactory(code="west")
    data = {
        "display_name": "Dr New",
        "roles": ["coach"],
        "programs": [program.pk],
        "districts": [district.pk],
        "gender": "",
        "offers_phone": "on",
        "time_zone": "Australia/Sydney",
        "holiday_state": "NSW",
        "weekly_capacity": 4,
        "calendar_email": "dr.new@calendar.test",
        "registration_body": "",
    }
    data.update(overrides)
    return {f"{prefix}-{k}": v for k, v in data.items()}


def test_a_new_clinician_gets_an_email_to_choose_a_password_then_sets_up_two_factor(
    coordinator_client, django_capture_on_commit_callbacks
):
    account = {
        "account-username": "drnew",
        "account-first_name": "Nova",
        "account-last_name": "New",
        "account-email": "nova@staff.test",
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = coordinator_client.post(
            reverse("coordinate:clinician_create"), {**account, **_profile()}
        )
    assert response.status_code == 302
    clinician = Clinician.objects.get(display_name="Dr New")
    assert not clinician.user.has_usable_password()
    assert list(clinician.user.groups.values_list("name", flat=True)) == ["clinician"]
    assert [p.code for p in clinician.programs.all()] == ["dup"]
    (message,) = mail.outbox
    assert message.subject == "Set up your Sounding Board staff account"
    assert message.to == ["nova@staff.test"]
    client = Client()
    path = re.search(r"https?://[^/]+(/\S+)", message.body).group(1)
    form_url = client.get(path)["Location"]
    done = client.post(form_url, {"new_password1": PASSWORD + "!", "new_password2": PASSWORD + "!"})
    assert done.status_code == 302
    client.post(reverse("staff:sign_in"), {"username": "drnew", "password": PASSWORD + "!"})
    assert client.get(reverse("staff:verify"))["Location"].startswith(reverse("staff:enrol"))


def test_a_counsellor_without_a_registration_is_refused_and_nothing_typed_is_lost(
    coordinator_client,
):
    account = {"account-username": "drc", "account-email": "c@staff.test"}
    response = coordinator_client.post(
        reverse("coordinate:clinician_create"), {**account, **_profile(roles=["counsellor"])}
    )
    assert response.status_code == 400
    assert "Counsellors need a professional registration." in response.content.decode()
    assert 'value="dr.new@calendar.test"' in response.content.decode()
    assert not get_user_model().objects.filter(username="drc").exists()


@pytest.fixture
def clinician():
    return clinician_user(display_name="Dr Week", weekly_capacity=5)


def _rule(weekday=2, start="09:00", end="11:00"):
    return {
        "weekday": weekday,
        "starts_at_time": start,
        "ends_at_time": end,
        "valid_from_on": "2026-03-01",
        "valid_until_on": "",
    }


def test_previewing_a_rule_lists_its_slots_and_saves_nothing(coordinator_client, clinician):
    url = reverse("coordinate:availability", args=[clinician.pk])
    response = coordinator_client.post(url, {**_rule(), "action": "preview"})
    preview = response.context["preview"]
    assert len(preview) == 2 * 8  # two slots on each of the 8 Wednesdays within the horizon
    assert preview[0].starts_at.astimezone(SYDNEY) == dt.datetime(2026, 3, 4, 9, 0, tzinfo=SYDNEY)
    assert not clinician.availability_rules.exists() and not Slot.objects.exists()


def test_saving_a_rule_creates_its_slots(coordinator_client, clinician):
    url = reverse("coordinate:availability", args=[clinician.pk])
    coordinator_client.post(url, {**_rule(), "action": "save"})
    slots = Slot.objects.filter(clinician=clinician)
    assert slots.count() == 16
    assert {s.starts_at.astimezone(SYDNEY).strftime("%a %H:%M") for s in slots} == {
        "Wed 09:00",
        "Wed 10:00",
    }


def test_a_rule_ending_before_it_starts_is_refused_clearly(coordinator_client, clinician):
    url = reverse("coordinate:availability", args=[clinician.pk])
    response = coordinator_client.post(url, {**_rule(start="11:00", end="09:00"), "action": "save"})
    assert "The end must be after the start." in response.content.decode()
    assert not clinician.availability_rules.exists()


def test_removing_a_rule_withdraws_open_slots_and_keeps_booked_ones_unoffered(
    coordinator_client, clinician
):
    coordinator_client.post(
        reverse("coordinate:availability", args=[clinician.pk]), {**_rule(), "action": "save"}
    )
    booked = Slot.objects.filter(clinician=clinician).earliest("starts_at")
    AppointmentFactory(slot=booked, status="accepted")
    rule = clinician.availability_rules.get()
    coordinator_client.post(reverse("coordinate:availability_delete", args=[clinician.pk, rule.pk]))
    assert list(Slot.objects.filter(clinician=clinician)) == [booked]
    booked.refresh_from_db()
    assert not booked.is_offered


def test_leave_preview_lists_the_slots_it_withdraws_and_the_sessions_to_move(
    coordinator_client, clinician
):
    coordinator_client.post(
        reverse("coordinate:availability", args=[clinician.pk]), {**_rule(), "action": "save"}
    )
    booked = Slot.objects.filter(clinician=clinician).earliest("starts_at")
    appointment = AppointmentFactory(slot=booked, status="accepted")
    url = reverse("coordinate:leave", args=[clinician.pk])
    leave = {"starts_on": "2026-03-04", "ends_on": "2026-03-04", "note": "Conference"}
    preview = coordinator_client.post(url, {**leave, "action": "preview"}).context["preview"]
    assert len(preview["withdrawn"]) == 2
    assert preview["clashes"] == [appointment]
    coordinator_client.post(url, {**leave, "action": "save"})
    assert clinician.time_off.get().note == "Conference"
    assert Slot.objects.filter(clinician=clinician).count() == 15
    booked.refresh_from_db()
    assert not booked.is_offered
    page = coordinator_client.get(url).content.decode()
    assert appointment.referral.reference in page


def work_queued(callbacks):
    """The on-commit callbacks that queue work (not those telling workers to read the
    clinicians, the offered times or the full weeks afresh)."""
    versions = (
        clinicians_version_publish,
        offered_times_version_publish,
        full_weeks_version_publish,
    )
    return [c for c in callbacks if c not in versions]


def test_deactivating_sends_pending_proposals_back_and_lists_booked_sessions(
    coordinator_client, clinician, django_capture_on_commit_callbacks
):
    pending = AppointmentFactory(
        slot=SlotFactory(clinician=clinician), referral=ReferralFactory(status="proposed")
    )
    booked = AppointmentFactory(
        slot=SlotFactory(clinician=clinician),
        status="accepted",
        referral=ReferralFactory(status="booked"),
    )
    url = reverse("coordinate:clinician_deactivate", args=[clinician.pk])
    confirm = coordinator_client.get(url)
    assert list(confirm.context["to_move"]) == [booked]
    with django_capture_on_commit_callbacks() as callbacks:
        coordinator_client.post(url, {})
    clinician.refresh_from_db()
    pending.refresh_from_db()
    pending.referral.refresh_from_db()
    assert not clinician.is_active
    assert (pending.status, pending.referral.status) == ("expired", "new")
    assert len(work_queued(callbacks)) == 1
    assert Appointment.objects.get(pk=booked.pk).status == "accepted"
    page = coordinator_client.get(
        reverse("coordinate:clinician", args=[clinician.pk])
    ).content.decode()
    assert "Booked sessions to move" in page and booked.referral.reference in page


def test_deactivating_with_sign_in_stopped_ends_the_clinicians_session(
    coordinator_client, clinician
):
    their_client = sign_in_verified(Client(), clinician.user)
    week = reverse("staff:clinician_week", args=[clinician.pk])
    assert their_client.get(week).status_code == 200
    coordinator_client.post(
        reverse("coordinate:clinician_deactivate", args=[clinician.pk]), {"disable_sign_in": "on"}
    )
    assert their_client.get(week)["Location"].startswith(reverse("staff:sign_in"))


def test_the_week_grid_shows_open_proposed_and_booked_times(clinician):
    open_slot = SlotFactory(
        clinician=clinician, starts_at=dt.datetime(2026, 3, 3, 9, tzinfo=SYDNEY)
    )
    proposed = AppointmentFactory(
        slot=SlotFactory(clinician=clinician, starts_at=dt.datetime(2026, 3, 4, 9, tzinfo=SYDNEY))
    )
    booked = AppointmentFactory(
        status="accepted",
        slot=SlotFactory(clinician=clinician, starts_at=dt.datetime(2026, 3, 5, 10, tzinfo=SYDNEY)),
    )
    client = sign_in_verified(Client(), clinician.user)
    grid = client.get(
        reverse("staff:clinician_week", args=[clinician.pk]), {"week": "2026-03-04"}
    ).context["grid"]
    assert grid.starts_on == dt.date(2026, 3, 2)
    cells = {cell.slot: cell for _time, days in grid.rows for day in days for cell in day}
    assert cells[open_slot].state == "open"
    assert cells[proposed.slot].state == "proposed"
    assert (cells[booked.slot].state, cells[booked.slot].appointment) == ("booked", booked)
    assert [time for time, _days in grid.rows] == ["09:00", "10:00"]
