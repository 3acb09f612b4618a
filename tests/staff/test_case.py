import datetime as dt

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from notifications.models import OutboundMessage
from notifications.services import appointment_notify
from privacy.append_only import AppendOnlyError
from privacy.models import AuditEntry
from referrals.models import Referral, TriageAssessment
from referrals.workflow import referral_transition
from scheduling.models import Appointment, AppointmentEvent
from staff.models import CaseActivity
from tests.referrals.factories import DistrictFactory, ProgramFactory, ReferralFactory
from tests.scheduling.factories import AppointmentFactory, ClinicianFactory, SlotFactory
from tests.staff.factories import bulk_cases, sign_in_verified

pytestmark = pytest.mark.django_db


def _url(name, referral, *args):
    return reverse(f"coordinate:{name}", args=[referral.reference, *args])


def _slot(clinician, days=4, hour=10):
    local = timezone.localtime() + dt.timedelta(days=days)
    starts_at = local.replace(hour=hour, minute=0, second=0, microsecond=0)
    return SlotFactory(
        clinician=clinician, starts_at=starts_at, ends_at=starts_at + dt.timedelta(hours=1)
    )


@pytest.fixture
def case():
    referral = ReferralFactory(reference="CASE01", status="new", details="Marker free text 7781")
    TriageAssessment.objects.create(
        referral=referral,
        answers={"harm_thoughts": "Marker answer 5512"},
        k10_score=31,
        outcome="priority",
        rule_version="2026.1",
        rule_fired="k10_very_high",
    )
    return referral


def test_opening_a_case_records_who_looked_and_when_but_not_what_they_saw(
    coordinator_client, coordinator, case
):
    response = coordinator_client.get(_url("case", case))
    assert response.status_code == 200
    entry = AuditEntry.objects.get()
    assert (entry.actor, entry.actor_label, entry.action) == (coordinator, "casey", "view")
    assert entry.detail == "viewed the case and contact details"
    assert (entry.object_type, entry.object_id) == ("referrals.referral", str(case.pk))
    stored = " ".join(str(v) for v in AuditEntry.objects.values().get().values())
    assert case.email not in stored and case.family_name not in stored


def test_triage_answers_stay_hidden_until_revealed_and_the_reveal_is_recorded(
    coordinator_client, case
):
    page = coordinator_client.get(_url("case", case)).content.decode()
    assert "k10_very_high" in page
    assert "Marker answer 5512" not in page and "Marker free text 7781" not in page
    assert coordinator_client.get(_url("case_reveal", case)).status_code == 405
    revealed = coordinator_client.post(_url("case_reveal", case)).content.decode()
    assert "Marker answer 5512" in revealed and "Marker free text 7781" in revealed
    assert list(AuditEntry.objects.order_by("pk").values_list("detail", flat=True)) == [
        "viewed the case and contact details",
        "revealed triage answers and details",
    ]


def test_the_record_of_a_look_cannot_be_changed(coordinator_client, case):
    coordinator_client.get(_url("case", case))
    entry = AuditEntry.objects.get()
    entry.detail = "revealed triage answers and details"
    with pytest.raises(AppendOnlyError):
        entry.save()


def test_the_timeline_shows_transitions_sessions_notes_and_looks(
    coordinator_client, coordinator, case
):
    referral_transition(case, "proposed", actor_label="system", reason="matched")
    appointment = AppointmentFactory(referral=case)
    AppointmentEvent.objects.create(
        appointment=appointment, to_status="proposed", actor_label="system"
    )
    coordinator_client.post(_url("case_note", case), {"text": "Called, left a message"})
    coordinator_client.get(_url("case", case))
    timeline = coordinator_client.get(_url("case", case)).context["case"].timeline
    summaries = [item.summary for item in timeline]
    assert "Waiting to be matched → Session offered to a clinician" in summaries
    assert any(s.startswith("Session 1 with") and s.endswith(": proposed") for s in summaries)
    assert "Internal note" in summaries
    assert summaries.count("Viewed the case and contact details") >= 2
    assert [i.occurred_at for i in timeline] == sorted(i.occurred_at for i in timeline)


# Urgent cases


def test_acknowledging_an_urgent_case_needs_a_note_and_records_the_named_coordinator(
    coordinator_client, coordinator
):
    referral = ReferralFactory(status="diverted", priority="urgent")
    refused = coordinator_client.post(_url("case_acknowledge", referral), {"note": "  "})
    assert refused.status_code == 400
    assert "This field is required" in refused.content.decode()
    response = coordinator_client.post(
        _url("case_acknowledge", referral), {"note": "Phoned, safe, booked GP"}
    )
    assert response.status_code == 302
    referral.refresh_from_db()
    assert referral.urgent_acknowledged_by == coordinator
    assert referral.urgent_acknowledgement_note == "Phoned, safe, booked GP"
    assert referral.status == "diverted"
    again = coordinator_client.post(_url("case_acknowledge", referral), {"note": "Me too"})
    assert "already acknowledged" in again.content.decode()


# Manual assignment


@pytest.fixture
def district():
    return DistrictFactory(code="home-lhd", name="Home LHD")


@pytest.fixture
def unmatched(district):
    return ReferralFactory(reference="UNM001", status="unmatched", workplace_district=district)


@pytest.fixture
def same_district_clinician(district, unmatched):
    return ClinicianFactory(
        display_name="Dr Nearby", districts=[district], programs=[unmatched.program]
    )


def test_the_assignment_page_shows_each_rule_a_time_breaks(
    coordinator_client, unmatched, same_district_clinician
):
    _slot(same_district_clinician)
    page = coordinator_client.get(
        _url("case_assign", unmatched), {"clinician": same_district_clinician.pk}
    ).content.decode()
    assert "The clinician works in the referrer&#x27;s district (conflict of interest)." in page


def test_assigning_despite_a_breach_needs_a_written_reason(
    coordinator_client, coordinator, unmatched, same_district_clinician
):
    slot = _slot(same_district_clinician)
    post = {
        "clinician": same_district_clinician.pk,
        "slot": slot.pk,
        f"breaches_{slot.pk}": "district",
    }
    refused = coordinator_client.post(_url("case_assign", unmatched), {**post, "reason": ""})
    assert refused.status_code == 400
    assert not Appointment.objects.exists()
    response = coordinator_client.post(
        _url("case_assign", unmatched),
        {**post, "reason": "Different hospital; person agreed by phone"},
    )
    assert response.status_code == 302
    appointment = Appointment.objects.get()
    assert (appointment.status, appointment.slot, appointment.clinician) == (
        "proposed",
        slot,
        same_district_clinician,
    )
    assert appointment.manual_assignment_reason == "Different hospital; person agreed by phone"
    assert appointment.match_explanation["mode"] == "manual"
    assert [b["code"] for b in appointment.match_explanation["breaches"]] == ["district"]
    assert appointment.events.get().actor == coordinator
    unmatched.refresh_from_db()
    assert unmatched.status == "proposed"


def test_the_assignment_page_warns_of_what_the_matcher_itself_would_refuse(
    coordinator_client, unmatched
):
    """A clinician who let a proposal for this case lapse, and who only sees people by video
    when the referrer asked for phone: the matcher would never offer them; the page says why."""
    unmatched.modality = "phone"
    unmatched.save(update_fields=["modality"])
    clinician = ClinicianFactory(programs=[unmatched.program], offers_phone=False)
    AppointmentFactory(referral=unmatched, slot=_slot(clinician, days=3), status="expired")
    _slot(clinician)
    page = coordinator_client.get(
        _url("case_assign", unmatched), {"clinician": clinician.pk}
    ).content.decode()
    assert "declined or let a proposal for this referral expire" in page
    assert "does not offer the session type the referrer chose" in page


def test_a_breach_the_coordinator_was_not_shown_is_put_before_them_again(
    coordinator_client, unmatched, same_district_clinician
):
    slot = _slot(same_district_clinician)
    response = coordinator_client.post(
        _url("case_assign", unmatched),
        {
            "clinician": same_district_clinician.pk,
            "slot": slot.pk,
            "reason": "Urgent",
            f"breaches_{slot.pk}": "",
        },
    )
    assert response.status_code == 400
    assert "rules you have not seen" in response.content.decode()
    assert not Appointment.objects.exists()


def test_a_time_someone_else_holds_is_not_offered_and_cannot_be_forced(
    coordinator_client, unmatched, same_district_clinician
):
    slot = _slot(same_district_clinician)
    AppointmentFactory(slot=slot)
    page = coordinator_client.get(
        _url("case_assign", unmatched), {"clinician": same_district_clinician.pk}
    )
    assert page.context["rows"] == []
    response = coordinator_client.post(
        _url("case_assign", unmatched),
        {"clinician": same_district_clinician.pk, "slot": slot.pk, "reason": "Try"},
    )
    assert response.status_code == 400
    assert Appointment.objects.filter(referral=unmatched).count() == 0


def test_assigning_again_replaces_the_live_session(coordinator_client, unmatched):
    first_clinician = ClinicianFactory(programs=[unmatched.program])
    other = ClinicianFactory(programs=[unmatched.program])
    first = AppointmentFactory(referral=unmatched, slot=_slot(first_clinician))
    Referral.objects.filter(pk=unmatched.pk).update(status="proposed")
    slot = _slot(other, days=5)
    coordinator_client.post(
        _url("case_assign", unmatched),
        {"clinician": other.pk, "slot": slot.pk, "reason": "Person asked for someone else"},
    )
    first.refresh_from_db()
    assert first.status == "cancelled"
    assert Appointment.objects.get(referral=unmatched, status="proposed").clinician == other


def test_the_session_limit_blocks_assignment_until_a_coordinator_raises_it(coordinator_client):
    program = ProgramFactory(session_limit=1)
    referral = ReferralFactory(status="booked", program=program)
    clinician = ClinicianFactory(programs=[program])
    AppointmentFactory(referral=referral, status="completed", slot=_slot(clinician, days=-3))
    slot = _slot(clinician, days=6)
    post = {"clinician": clinician.pk, "slot": slot.pk, "reason": "Next session"}
    blocked = coordinator_client.post(_url("case_assign", referral), post)
    assert "raise the session limit first" in blocked.content.decode()
    refused = coordinator_client.post(_url("case_limit", referral), {"new_limit": 2, "reason": ""})
    assert refused.status_code == 400
    coordinator_client.post(
        _url("case_limit", referral), {"new_limit": 2, "reason": "Clinician advised one more"}
    )
    referral.episode.refresh_from_db()
    assert referral.episode.session_limit == 2
    assert referral.episode.limit_override_reason == "Clinician advised one more"
    assert CaseActivity.objects.get().kind == "limit_overridden"
    assert coordinator_client.post(_url("case_assign", referral), post).status_code == 302


def test_raising_the_limit_of_a_case_held_over_it_sends_it_to_the_matcher(
    coordinator_client, django_capture_on_commit_callbacks
):
    program = ProgramFactory(session_limit=1)
    clinician = ClinicianFactory(programs=[program])
    earlier = ReferralFactory(status="closed", program=program)
    AppointmentFactory(referral=earlier, status="completed", slot=_slot(clinician, days=-9))
    held = ReferralFactory(
        status="held", program=program, episode=earlier.episode, email=earlier.email
    )
    _slot(clinician, days=6)
    with django_capture_on_commit_callbacks(execute=True):
        coordinator_client.post(
            _url("case_limit", held), {"new_limit": 2, "reason": "Coordinator agreed one more"}
        )
    held.refresh_from_db()
    assert held.status == "proposed"  # released and matched (tasks run in-process here)
    assert held.appointments.get().clinician == clinician


# Other actions


def test_cancelling_a_session_needs_a_reason_holds_the_case_and_tells_the_clinician(
    coordinator_client,
):
    appointment = AppointmentFactory(
        status="accepted", referral=ReferralFactory(status="booked"), slot=_slot(ClinicianFactory())
    )
    appointment_notify(appointment_id=appointment.pk, change="proposed")
    url = _url("appointment_cancel", appointment.referral, appointment.pk)
    assert coordinator_client.post(url, {"reason": ""}).status_code == 400
    coordinator_client.post(url, {"reason": "Clinician unwell"})
    appointment.refresh_from_db()
    appointment.referral.refresh_from_db()
    assert appointment.status == "cancelled"
    assert appointment.referral.status == "held"
    assert appointment.events.get(to_status="cancelled").reason == "Clinician unwell"
    cancel = OutboundMessage.objects.get(appointment=appointment, kind="invitation_cancel")
    assert cancel.ical_method == "CANCEL"


def test_a_coordinator_moves_a_session_in_place_as_one_calendar_event(coordinator_client):
    program = ProgramFactory()
    clinician = ClinicianFactory(programs=[program], districts=[DistrictFactory()])
    referral = ReferralFactory(program=program, status="booked")
    appointment = AppointmentFactory(referral=referral, slot=_slot(clinician), status="accepted")
    appointment_notify(appointment_id=appointment.pk, change="proposed")
    appointment_notify(appointment_id=appointment.pk, change="accepted")
    new_slot = _slot(clinician, days=6)
    url = _url("appointment_reschedule", referral, appointment.pk)

    page = coordinator_client.get(url)
    assert f'value="{new_slot.pk}"' in page.content.decode()
    assert coordinator_client.post(url, {"slot": new_slot.pk, "reason": ""}).status_code == 400
    response = coordinator_client.post(
        url, {"slot": new_slot.pk, "reason": "Person asked by phone"}
    )

    assert response["Location"] == _url("case", referral)
    appointment.refresh_from_db()
    assert (appointment.slot, appointment.status) == (new_slot, "accepted")
    update = OutboundMessage.objects.get(appointment=appointment, kind="invitation_update")
    assert (update.ical_uid, update.ical_sequence) == (appointment.ical_uid, 1)
    assert OutboundMessage.objects.filter(
        appointment=appointment, kind="confirmation_update"
    ).exists()


def test_rematch_withdraws_the_proposal_and_offers_the_case_to_someone_else(coordinator_client):
    appointment = AppointmentFactory(status="proposed", referral=ReferralFactory(status="proposed"))
    referral = appointment.referral
    appointment.clinician.programs.add(referral.program)
    SlotFactory(clinician=appointment.clinician)  # the first clinician is free again, too
    someone_else = ClinicianFactory(programs=[referral.program])
    SlotFactory(clinician=someone_else)
    appointment_notify(appointment_id=appointment.pk, change="proposed")
    response = coordinator_client.post(
        _url("appointment_rematch", referral, appointment.pk), {"next": "/coordinate/"}
    )
    assert response["Location"] == "/coordinate/"
    appointment.refresh_from_db()
    referral.refresh_from_db()
    assert (appointment.status, referral.status) == ("cancelled", "proposed")
    new_proposal = referral.appointments.get(status="proposed")
    assert new_proposal.clinician == someone_else
    told = OutboundMessage.objects.filter(appointment=appointment).order_by("pk")
    assert [m.kind for m in told] == ["invitation", "invitation_cancel"]
    assert OutboundMessage.objects.filter(appointment=new_proposal, kind="invitation").exists()


def test_resending_an_invitation_sends_the_same_version_again_and_is_on_the_timeline(
    coordinator_client,
):
    appointment = AppointmentFactory(status="proposed")
    appointment_notify(appointment_id=appointment.pk, change="proposed")
    coordinator_client.post(_url("appointment_resend", appointment.referral, appointment.pk))

    assert CaseActivity.objects.get(referral=appointment.referral).kind == "invitation_resent"
    original, copy = OutboundMessage.objects.filter(appointment=appointment).order_by("pk")
    assert (copy.kind, copy.recipient, copy.ical_uid, copy.ical_sequence) == (
        original.kind,
        original.recipient,
        original.ical_uid,
        original.ical_sequence,
    )
    assert copy.message_id != original.message_id
    page = coordinator_client.get(_url("case", appointment.referral)).content.decode()
    assert page.count("Invitation to the clinician: waiting to be sent") == 2


def test_closing_a_case_cancels_live_sessions_and_keeps_the_outcome(coordinator_client):
    appointment = AppointmentFactory(status="accepted", referral=ReferralFactory(status="booked"))
    referral = appointment.referral
    coordinator_client.post(
        _url("case_close", referral), {"outcome": "referred_elsewhere", "note": "To EAP"}
    )
    referral.refresh_from_db()
    appointment.refresh_from_db()
    assert (referral.status, referral.closed_outcome) == ("closed", "referred_elsewhere")
    assert appointment.status == "cancelled"
    assert CaseActivity.objects.get(referral=referral).text == "To EAP"


def test_an_acknowledged_urgent_case_can_be_sent_to_the_matcher(coordinator_client, coordinator):
    referral = ReferralFactory(status="diverted")
    assert (
        "Acknowledge this urgent case"
        in coordinator_client.post(_url("case_match", referral)).content.decode()
    )
    Referral.objects.filter(pk=referral.pk).update(urgent_acknowledged_at=timezone.now())
    coordinator_client.post(_url("case_match", referral))
    referral.refresh_from_db()
    assert referral.status == "new"


def test_actions_need_the_csrf_token(coordinator):
    client = sign_in_verified(Client(enforce_csrf_checks=True), coordinator)
    referral = ReferralFactory(status="diverted")
    response = client.post(_url("case_acknowledge", referral), {"note": "x"})
    assert response.status_code == 403
    referral.refresh_from_db()
    assert referral.urgent_acknowledged_at is None


def test_an_unknown_case_is_not_found(coordinator_client):
    assert coordinator_client.get(reverse("coordinate:case", args=["NOPE99"])).status_code == 404


def _case_queries(client, referral) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(_url("case", referral)).status_code == 200
    return len(queries)


def test_the_case_page_costs_the_same_few_queries_with_2000_cases(
    coordinator_client, case, django_assert_max_num_queries
):
    clinician = ClinicianFactory()
    for days in (3, 4, 5):
        appointment = AppointmentFactory(
            referral=case, slot=_slot(clinician, days=days), status="declined"
        )
        AppointmentEvent.objects.create(
            appointment=appointment, to_status="declined", actor_label="clinician"
        )
    coordinator_client.get(_url("case", case))
    few = _case_queries(coordinator_client, case)
    bulk_cases(
        2000,
        programs=[case.program],
        districts=[case.workplace_district],
        clinician=ClinicianFactory(),
    )
    with django_assert_max_num_queries(16):
        coordinator_client.get(_url("case", case))
    assert _case_queries(coordinator_client, case) == few
