"""Saving referrals: triage stored, episodes opened or continued, limits held, overrides."""

import pytest
from django.db import transaction

from referrals.models import Episode, Program, Referral
from referrals.services import ReferralDraft, referral_limit_override, referral_submit
from referrals.triage import SafetyAnswers
from referrals.views import referral_submit_and_follow_up
from tests.referrals.factories import EpisodeFactory, ReferralFactory
from tests.referrals.wizard import matches_queued
from tests.scheduling.factories import AppointmentFactory, UserFactory

pytestmark = pytest.mark.django_db

ROUTINE = SafetyAnswers("yes", "not_at_all", "", "no", "no")
URGENT = SafetyAnswers("not_sure", "not_at_all", "", "no", "no")
PRIORITY = SafetyAnswers("yes", "several_days", "no", "no", "no", k10=(3,) * 10)


def draft(program: Program, email: str = "alex@example.test", **changes) -> ReferralDraft:
    fields = {
        "program": program,
        "collection_notice_version": "2026-11",
        "has_accepted_not_crisis_service": True,
        "given_name": "Alex",
        "family_name": "Doctor",
        "email": email,
        "phone": "+61412345678",
    }
    fields.update(changes)
    return ReferralDraft(**fields)


@pytest.fixture
def dup(reference_data) -> Program:
    return Program.objects.get(code="dup")


def used_episode(program: Program, email: str, statuses: list[str]) -> Episode:
    episode = EpisodeFactory(program=program, email_normalised=email)
    referral = ReferralFactory(program=program, episode=episode, email=email, status="booked")
    for status in statuses:
        AppointmentFactory(referral=referral, status=status)
    return episode


def test_a_referral_is_saved_with_its_triage_assessment_and_creation_event(dup):
    referral = referral_submit(draft=draft(dup), safety=PRIORITY)
    assert referral.status == Referral.Status.NEW
    assert referral.priority == "priority"
    assert referral.match_requested_at is not None
    triage = referral.triage
    assert (triage.outcome, triage.rule_fired, triage.k10_score) == (
        "priority",
        "priority.self_harm_thoughts",
        30,
    )
    assert triage.rule_version and triage.answers["self_harm_thoughts"] == "several_days"
    assert [(e.to_status, e.actor_label) for e in referral.events.all()] == [("new", "referrer")]


def test_an_urgent_referral_is_diverted_and_never_waits_for_matching(dup):
    referral = referral_submit(draft=draft(dup), safety=URGENT)
    assert referral.status == Referral.Status.DIVERTED
    assert referral.priority == "urgent"
    assert referral.match_requested_at is None
    assert referral.triage.rule_fired == "urgent.not_safe_now"


def test_a_second_referral_continues_the_same_episode_whatever_the_address_case(dup):
    first = referral_submit(draft=draft(dup, "Alex@Example.test"), safety=ROUTINE)
    second = referral_submit(draft=draft(dup, " alex@example.TEST "), safety=ROUTINE)
    assert first.episode_id == second.episode_id
    assert first.episode.email_normalised == "alex@example.test"
    assert first.episode.session_limit == dup.session_limit


def test_a_referral_over_the_episode_limit_is_held_with_the_reason(dup):
    used_episode(dup, "alex@example.test", ["completed", "completed", "accepted"])
    referral = referral_submit(draft=draft(dup), safety=ROUTINE)
    assert referral.status == Referral.Status.HELD
    assert referral.hold_reason == "Over the session limit: 3 of 3 sessions used"
    assert referral.match_requested_at is None


def test_cancelled_and_declined_sessions_leave_the_limit_open(dup):
    used_episode(dup, "alex@example.test", ["completed", "cancelled", "declined", "late_cancelled"])
    assert referral_submit(draft=draft(dup), safety=ROUTINE).status == Referral.Status.NEW


def test_a_late_cancellation_uses_a_session_when_the_program_says_so(dup):
    dup.late_cancellation_uses_session = True
    dup.save()
    used_episode(dup, "alex@example.test", ["completed", "completed", "late_cancelled"])
    assert referral_submit(draft=draft(dup), safety=ROUTINE).status == Referral.Status.HELD


def test_an_urgent_person_over_the_limit_is_still_diverted_to_crisis_help(dup):
    used_episode(dup, "alex@example.test", ["completed"] * 3)
    assert referral_submit(draft=draft(dup), safety=URGENT).status == Referral.Status.DIVERTED


def test_a_coordinator_override_releases_a_held_referral_with_the_reason_recorded(dup):
    used_episode(dup, "alex@example.test", ["completed"] * 3)
    held = referral_submit(draft=draft(dup), safety=ROUTINE)
    coordinator = UserFactory()
    referral = referral_limit_override(
        referral_id=held.pk, actor=coordinator, reason="Agreed with the program lead"
    )
    assert referral.status == Referral.Status.NEW
    assert referral.match_requested_at is not None
    episode = Episode.objects.get(pk=held.episode_id)
    assert episode.session_limit == 4
    assert episode.limit_override_reason == "Agreed with the program lead"
    assert episode.limit_overridden_by == coordinator
    event = referral.events.last()
    assert (event.from_status, event.to_status, event.actor) == ("held", "new", coordinator)
    assert "Agreed with the program lead" in event.reason


def test_an_override_of_a_referral_not_held_is_recorded_in_its_history(dup):
    referral = referral_submit(draft=draft(dup), safety=ROUTINE)
    referral_limit_override(referral_id=referral.pk, actor=UserFactory(), reason="Complex case")
    event = referral.events.last()
    assert (event.from_status, event.to_status) == ("new", "new")
    assert Episode.objects.get(pk=referral.episode_id).session_limit == dup.session_limit


def test_an_override_needs_a_written_reason(dup):
    referral = referral_submit(draft=draft(dup), safety=ROUTINE)
    with pytest.raises(ValueError):
        referral_limit_override(referral_id=referral.pk, actor=UserFactory(), reason="  ")


@pytest.mark.parametrize(
    ("safety", "limit_used", "queued"),
    [(ROUTINE, 0, 1), (URGENT, 0, 0), (ROUTINE, 3, 0)],
    ids=["new", "diverted", "held"],
)
def test_matching_is_queued_after_commit_only_for_a_referral_to_match(
    dup, django_capture_on_commit_callbacks, safety, limit_used, queued
):
    if limit_used:
        used_episode(dup, "alex@example.test", ["completed"] * limit_used)
    with django_capture_on_commit_callbacks() as callbacks:
        referral_submit_and_follow_up(draft=draft(dup), safety=safety)
    assert len(matches_queued(callbacks)) == queued


def test_a_person_whose_episode_was_closed_opens_a_new_one(dup):
    closed = used_episode(dup, "alex@example.test", ["completed"] * 3)
    closed.closed_at = closed.opened_at
    closed.save(update_fields=["closed_at"])
    referral = referral_submit(draft=draft(dup), safety=ROUTINE)
    assert referral.status == Referral.Status.NEW
    assert referral.episode_id != closed.pk
    assert referral.episode.closed_at is None and referral.episode.session_limit == 3


def test_a_reference_code_already_taken_is_drawn_again_in_the_same_transaction(dup, monkeypatch):
    taken = referral_submit(draft=draft(dup, "first@example.test"), safety=ROUTINE).reference
    codes = iter([taken, taken, "FRESH1"])
    monkeypatch.setattr("referrals.services.new_reference_code", lambda length: next(codes))
    referral = referral_submit(draft=draft(dup, "second@example.test"), safety=ROUTINE)
    assert Referral.objects.get(pk=referral.pk).reference == "FRESH1"
    assert Referral.objects.filter(reference=taken).count() == 1
    assert referral.triage.outcome == "routine"


def test_no_free_reference_code_fails_the_referral_whole(dup, monkeypatch):
    taken = referral_submit(draft=draft(dup, "first@example.test"), safety=ROUTINE).reference
    monkeypatch.setattr("referrals.services.new_reference_code", lambda length: taken)
    with pytest.raises(RuntimeError, match="REFERENCE_CODE_LENGTH"), transaction.atomic():
        referral_submit(draft=draft(dup, "second@example.test"), safety=ROUTINE)
    assert Referral.objects.count() == 1
    assert not Episode.objects.filter(email_normalised="second@example.test").exists()
