"""The self-referral wizard through the Django test client: every program, every branch."""

import re
from contextlib import contextmanager

import pytest
from django.conf import settings
from django.db import OperationalError, connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from notifications.models import OutboundMessage
from referrals.models import District, Program, Referral
from scheduling.models import Appointment
from tests.referrals.factories import EpisodeFactory, ReferralFactory
from tests.referrals.wizard import (
    INTAKE_PREFIX,
    SELF_STEPS,
    STEPS_BEFORE_SAFETY,
    Wizard,
    matches_queued,
    routine_answers,
)
from tests.scheduling.factories import AppointmentFactory
from tests.staff.factories import sign_in_verified, staff_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def wizard(client, reference_data) -> Wizard:
    return Wizard(client)


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def finish(wizard: Wizard, answers: dict, steps=SELF_STEPS):
    response = wizard.walk(answers, steps)
    return wizard.client.get(response["Location"])


def only_referral() -> Referral:
    return Referral.objects.select_related("program", "triage").get()


# Paths through the wizard -----------------------------------------------------------------


def test_the_wizard_starts_at_choosing_a_service_with_help_now_before_any_question(wizard):
    response = wizard.client.get("/refer/", follow=True)
    page = text(response)
    assert response.redirect_chain[-1][0] == "/refer/service/"
    assert "Step 1 of 10" in page
    help_now = page.index("If you need help now")
    assert help_now < page.index("<form")
    assert page.index("13 11 14") < page.index("<form") and page.index("000") < page.index("<form")


def test_the_service_page_guides_the_choice_and_lists_the_information_only_services(wizard):
    page = text(wizard.get("service"))
    assert "Which service fits me?" in page
    for name in ["AMA Victoria Peer Support", "Balint groups", "Australian Doctors in Recovery"]:
        assert name in page
    assert 'value="ama-vic-peer-support"' not in page  # not bookable here


@pytest.mark.parametrize("program", ["dup", "jmo-support-line", "drs4drs"])
def test_each_program_can_be_referred_to_from_start_to_confirmation(
    wizard, program, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as queued:
        confirmation = finish(wizard, routine_answers(program=program))
    referral = only_referral()
    assert referral.program.code == program
    assert (referral.status, referral.source, referral.priority) == ("new", "self", "routine")
    assert referral.collection_notice_version == "2026-11"
    assert referral.phone == "+61412345678"
    assert referral.reasons == ["workload", "burnout"]
    assert referral.preferred_windows == ["mon-evening", "sat-morning"]
    assert referral.workplace_facility is not None
    assert referral.triage.rule_fired == "routine.no_rule_matched"
    assert len(matches_queued(queued)) == 1
    page = text(confirmation)
    assert "Referral sent" in page and referral.reference in page
    assert "What happens next" in page and "13 11 14" in page


def test_progress_counts_the_steps_actually_shown(wizard):
    answers = routine_answers()
    wizard.walk(answers, SELF_STEPS[:3])
    assert "Step 4 of 10" in text(wizard.get("about-you"))
    answers["about-you"]["is_on_behalf"] = "True"
    wizard.post("about-you", answers["about-you"])
    assert "Step 5 of 11" in text(wizard.get("referrer"))


def test_a_colleague_can_refer_someone_who_agreed(wizard):
    answers = routine_answers()
    answers["about-you"]["is_on_behalf"] = "True"
    steps = [*SELF_STEPS[:4], "referrer", *SELF_STEPS[4:]]
    finish(wizard, answers, steps)
    referral = only_referral()
    assert referral.source == "on_behalf"
    assert (referral.referrer_name, referral.has_person_agreed) == ("Sam Colleague", True)


def test_a_referrer_must_confirm_the_person_agreed(wizard):
    answers = routine_answers()
    answers["about-you"]["is_on_behalf"] = "True"
    wizard.walk(answers, SELF_STEPS[:4])
    del answers["referrer"]["has_person_agreed"]
    page = text(wizard.post("referrer", answers["referrer"]))
    assert "only accept a referral the person has agreed to" in page


# Eligibility ------------------------------------------------------------------------------


def test_someone_outside_nsw_health_is_offered_the_service_that_fits_and_can_continue(wizard):
    answers = routine_answers(program="dup")
    wizard.walk(answers, SELF_STEPS[:2])
    victoria = District.objects.filter(state="VIC").first()
    answers["eligibility"].update(state="VIC", employer_district=str(victoria.pk))
    response = wizard.post("eligibility", answers["eligibility"])
    page = text(response)
    assert response.status_code == 200
    assert "Another service may suit you" in page
    assert "Delivering Under Pressure coaching is for medical students" in page
    assert 'name="switch_program" value="drs4drs"' in page
    assert 'name="switch_program" value="dup"' not in page
    assert "1300 374 377" in page

    moved = wizard.post("eligibility", answers["eligibility"], switch_program="drs4drs")
    assert moved["Location"] == "/refer/about-you/"
    answers["workplace"]["workplace_district"] = str(victoria.pk)
    answers["workplace"]["workplace_facility"] = str(victoria.facilities.first().pk)
    finish(wizard, answers, SELF_STEPS[3:])
    assert only_referral().program.code == "drs4drs"


def test_a_medical_student_is_told_the_jmo_line_is_for_jmos_and_shown_what_fits(wizard):
    answers = routine_answers(program="jmo-support-line")
    wizard.walk(answers, SELF_STEPS[:2])
    answers["eligibility"]["career_stage"] = "medical_student"
    page = text(wizard.post("eligibility", answers["eligibility"]))
    assert "JMO Support Line is for junior medical officers" in page
    assert 'value="dup"' in page and 'value="drs4drs"' in page


def test_switching_to_a_service_that_still_does_not_fit_changes_nothing(wizard):
    answers = routine_answers(program="dup")
    wizard.walk(answers, SELF_STEPS[:2])
    answers["eligibility"]["career_stage"] = "other_doctor"
    response = wizard.post("eligibility", answers["eligibility"], switch_program="jmo-support-line")
    assert response.status_code == 200
    assert "JMO Support Line is for" in text(response)


# Safety and urgent answers ----------------------------------------------------------------


def reach_safety(wizard: Wizard, program: str = "drs4drs") -> dict:
    answers = routine_answers(program=program)
    wizard.walk(answers, STEPS_BEFORE_SAFETY)
    return answers


@pytest.mark.parametrize(
    ("changes", "rule"),
    [
        ({"is_safe_now": "not_sure"}, "urgent.not_safe_now"),
        ({"self_harm_thoughts": "several_days", "has_plan": "not_sure"}, "urgent.plan_or_intent"),
        ({"recent_self_harm": "yes"}, "urgent.recent_self_harm"),
        ({"worried_harm_others": "yes"}, "urgent.may_harm_others"),
    ],
)
def test_an_urgent_answer_ends_the_wizard_and_saves_what_was_given_as_diverted(
    wizard, changes, rule, django_capture_on_commit_callbacks
):
    answers = reach_safety(wizard)
    with django_capture_on_commit_callbacks() as queued:
        response = wizard.post("safety", {**answers["safety"], **changes})
    assert response["Location"] == "/refer/urgent/"
    referral = only_referral()
    assert (referral.status, referral.priority) == ("diverted", "urgent")
    assert (referral.triage.outcome, referral.triage.rule_fired) == ("urgent", rule)
    assert referral.email == "alex.doctor@example.test"
    assert referral.workplace_district is not None and referral.reasons == ["workload", "burnout"]
    assert referral.preferred_windows == []  # never asked
    assert matches_queued(queued) == []  # no automatic booking
    alert = OutboundMessage.objects.get(kind=OutboundMessage.Kind.URGENT_ALERT)
    assert alert.recipient == settings.ONCALL_COORDINATOR_EMAIL
    assert "Alex" not in alert.subject and referral.family_name not in alert.subject
    assert wizard.get("preferences")["Location"] == "/refer/service/"  # the wizard is over


def test_the_crisis_page_gives_every_line_and_the_districts_eap(wizard):
    answers = reach_safety(wizard, program="dup")
    District.objects.filter(pk=answers["workplace"]["workplace_district"]).update(
        eap_name="Staff support line", eap_phone="1800 000 111"
    )
    wizard.post("safety", {**answers["safety"], "is_safe_now": "no"})
    page = text(wizard.client.get("/refer/urgent/"))
    for number in ["000", "13 11 14", "1800 011 511", "1300 374 377", "1800 000 111"]:
        assert number in page
    assert "Staff support line" in page
    assert "Talk to a counsellor now" not in page  # a Drs4Drs offer only


def test_the_crisis_page_of_a_drs4drs_referral_offers_a_counsellor_now_as_a_choice(wizard):
    answers = reach_safety(wizard, program="drs4drs")
    wizard.post("safety", {**answers["safety"], "recent_self_harm": "yes"})
    page = text(wizard.client.get("/refer/urgent/"))
    assert "Talk to a counsellor now" in page
    assert 'name="talk_now" value="yes"' in page
    assert "general line" not in page
    assert "Employee Assistance Program" in page


def test_over_the_submission_limit_an_urgent_person_still_sees_every_crisis_line(wizard, settings):
    settings.REFERRAL_SUBMISSIONS_PER_IP = 0
    answers = reach_safety(wizard)
    response = wizard.post("safety", {**answers["safety"], "is_safe_now": "no"})
    page = text(wizard.client.get(response["Location"]))
    assert "Please talk to someone now" in page
    assert "1800 011 511" in page and "13 11 14" in page
    assert "We could not pass your details to our coordinators" in page
    assert not Referral.objects.exists()


def test_urgent_answers_without_a_valid_consent_still_reach_the_crisis_page(wizard, monkeypatch):
    answers = reach_safety(wizard)
    monkeypatch.setattr("referrals.forms.COLLECTION_NOTICE_VERSION", "2027-01")  # a new notice
    response = wizard.post("safety", {**answers["safety"], "is_safe_now": "no"})
    assert response["Location"] == "/refer/urgent/"
    assert "1800 011 511" in text(wizard.client.get("/refer/urgent/"))
    assert not Referral.objects.exists()


def test_the_crisis_page_opened_directly_shows_the_lines_and_claims_nothing(wizard):
    page = text(wizard.client.get("/refer/urgent/"))
    assert "1800 011 511" in page and "1300 374 377" in page
    assert "coordinator" not in page


def test_not_being_safe_diverts_at_once_even_with_the_other_questions_unanswered(wizard):
    reach_safety(wizard)
    assert wizard.post("safety", {"is_safe_now": "no"})["Location"] == "/refer/urgent/"
    triage = only_referral().triage
    assert triage.rule_fired == "urgent.not_safe_now"
    assert triage.answers["recent_self_harm"] == ""  # stored as given: not answered


def test_routine_answers_need_every_question(wizard):
    reach_safety(wizard)
    page = text(wizard.post("safety", {"is_safe_now": "yes", "self_harm_thoughts": "not_at_all"}))
    assert "Answer whether you have harmed yourself in the last month." in page
    assert "Tell us whether you have a plan" not in page
    assert not Referral.objects.exists()


def test_urgent_answers_kept_by_back_still_end_on_the_crisis_page(wizard):
    answers = reach_safety(wizard)
    urgent = {**answers["safety"], "worried_harm_others": "yes"}
    wizard.post("safety", urgent, wizard_goto_step="whats-going-on")
    wizard.walk(answers, ["wellbeing-check", "preferences"])  # typed-in addresses, not Continue
    assert wizard.post("check", {})["Location"] == "/refer/urgent/"
    assert only_referral().status == "diverted"


def test_a_plan_must_be_answered_when_there_are_thoughts_of_self_harm(wizard):
    answers = reach_safety(wizard)
    response = wizard.post("safety", {**answers["safety"], "self_harm_thoughts": "several_days"})
    assert response.status_code == 200
    assert "Tell us whether you have a plan" in text(response)
    assert not Referral.objects.exists()


@pytest.mark.parametrize(
    ("items", "priority"), [([3] * 9 + [2], "routine"), ([3] * 10, "priority")], ids=["29", "30"]
)
def test_a_k10_of_29_stays_routine_and_30_makes_the_referral_priority(wizard, items, priority):
    answers = routine_answers()
    answers["wellbeing-check"] = {f"k10_{n}": str(v) for n, v in enumerate(items, start=1)}
    confirmation = finish(wizard, answers)
    referral = only_referral()
    assert referral.priority == priority
    assert referral.triage.k10_score == sum(items)
    assert ("If things get harder before we reach you" in text(confirmation)) == (
        priority == "priority"
    )


def test_the_wellbeing_questions_are_all_or_nothing(wizard):
    answers = routine_answers()
    wizard.walk(answers, SELF_STEPS[: SELF_STEPS.index("wellbeing-check")])
    page = text(wizard.post("wellbeing-check", {"k10_1": "3", "k10_2": "4"}))
    assert "Answer this question too, or skip all of them." in page


def test_skipping_the_wellbeing_questions_discards_any_half_answers(wizard):
    answers = routine_answers()
    wizard.walk(answers, SELF_STEPS[: SELF_STEPS.index("wellbeing-check")])
    response = wizard.post("wellbeing-check", {"k10_1": "5"}, skip_questions="1")
    assert response["Location"] == "/refer/preferences/"
    finish(wizard, answers, SELF_STEPS[SELF_STEPS.index("preferences") :])
    assert only_referral().triage.k10_score is None


# Session limits ---------------------------------------------------------------------------


def test_a_referral_over_the_limit_is_held_and_the_screen_does_not_say_so(wizard, client):
    program = Program.objects.get(code="dup")
    episode = EpisodeFactory(program=program, email_normalised="alex.doctor@example.test")
    earlier = ReferralFactory(program=program, episode=episode, email="alex.doctor@example.test")
    AppointmentFactory.create_batch(3, referral=earlier, status=Appointment.Status.COMPLETED)
    held_page = text(finish(wizard, routine_answers(email="Alex.Doctor@example.test")))
    held = Referral.objects.exclude(pk=earlier.pk).get()
    assert held.status == "held" and "session limit" in held.hold_reason

    fresh_page = text(finish(Wizard(Client()), routine_answers(email="new.person@example.test")))
    fresh = Referral.objects.get(email="new.person@example.test")
    assert held_page.replace(held.reference, "REF") == fresh_page.replace(fresh.reference, "REF")


# Change, Back and nothing lost ------------------------------------------------------------


def test_every_answer_on_the_check_page_has_a_change_link_that_comes_back_to_it(wizard):
    answers = routine_answers()
    wizard.walk(answers, SELF_STEPS[:-1])
    page = text(wizard.get("check"))
    assert page.count(">Change<") >= 25
    assert "0412 345 678" in page and "Monday evening (5pm–8pm)" in page

    wizard.get("about-you", **{"from": "check"})
    answers["about-you"]["preferred_name"] = "Al"
    assert wizard.post("about-you", answers["about-you"])["Location"] == "/refer/check/"
    assert "Al" in text(wizard.get("check"))


def test_a_change_that_adds_a_step_asks_it_before_returning_to_the_check_page(wizard):
    answers = routine_answers()
    wizard.walk(answers, SELF_STEPS[:-1])
    wizard.get("about-you", **{"from": "check"})
    answers["about-you"]["is_on_behalf"] = "True"
    assert wizard.post("about-you", answers["about-you"])["Location"] == "/refer/referrer/"
    assert wizard.post("referrer", answers["referrer"])["Location"] == "/refer/check/"


def test_a_validation_error_keeps_everything_typed_and_lists_each_problem(wizard):
    answers = routine_answers()
    wizard.walk(answers, SELF_STEPS[:3])
    typed = {**answers["about-you"], "email": "not-an-email", "phone": "02 9999 9999"}
    page = text(wizard.post("about-you", typed))
    assert "There is a problem" in page
    assert 'href="#id_about-you-email"' in page and 'href="#id_about-you-phone"' in page
    assert 'value="not-an-email"' in page and 'value="Alex"' in page
    assert 'aria-describedby="id_about-you-email_helptext id_about-you-email_error"' in page
    assert "<title>Error: About you" in page


def test_back_keeps_what_was_typed_even_when_it_is_not_finished(wizard):
    answers = routine_answers()
    wizard.walk(answers, SELF_STEPS[:3])
    half_typed = {"given_name": "Alexandra", "email": "alex@"}
    assert (
        wizard.post("about-you", half_typed, wizard_goto_step="eligibility")["Location"]
        == "/refer/eligibility/"
    )
    page = text(wizard.get("about-you"))
    assert 'value="Alexandra"' in page and 'value="alex@"' in page
    assert "There is a problem" not in page


def test_steps_cannot_be_skipped_by_typing_a_later_address(wizard):
    wizard.walk(routine_answers(), SELF_STEPS[:2])
    assert wizard.get("preferences")["Location"] == "/refer/eligibility/"


def test_opening_the_done_address_never_sends_a_referral(wizard):
    wizard.walk(routine_answers(), SELF_STEPS[:-1])
    assert wizard.client.get("/refer/done/")["Location"] == "/refer/check/"
    assert not Referral.objects.exists()


# Workplace --------------------------------------------------------------------------------


def test_the_hospital_list_is_the_chosen_districts_and_works_without_javascript(wizard):
    answers = routine_answers()
    wizard.walk(answers, SELF_STEPS[:4])
    sydney = District.objects.get(code="sydney-lhd")
    page = text(wizard.get("workplace"))
    assert "Royal Prince Alfred Hospital</option>" in page
    assert "Westmead Hospital</option>" not in page
    assert "so we never match you with someone from your own workplace" in page

    western = District.objects.get(code="western-sydney-lhd")
    typed = {**answers["workplace"], "workplace_district": str(western.pk), "specialty": "Renal"}
    refreshed = wizard.post("workplace", typed, refresh_facilities="1")
    page = text(refreshed)
    assert refreshed.status_code == 200 and "There is a problem" not in page
    assert "Westmead Hospital</option>" in page
    assert "Royal Prince Alfred Hospital</option>" not in page
    assert 'value="Renal"' in page

    rpa = sydney.facilities.get(name="Royal Prince Alfred Hospital")
    mismatched = {**typed, "workplace_facility": str(rpa.pk)}
    assert "Choose a hospital of the district above" in text(wizard.post("workplace", mismatched))


# Abuse and failure ------------------------------------------------------------------------


def test_a_filled_honeypot_sends_nothing(wizard):
    answers = routine_answers()
    wizard.walk(answers, SELF_STEPS[:-1])
    response = wizard.post("check", {"website": "http://spam.example"})
    assert response.status_code == 200
    assert not Referral.objects.exists()


def test_the_submission_limit_answers_with_a_clear_page_and_keeps_the_answers(wizard, settings):
    settings.REFERRAL_SUBMISSIONS_PER_IP = 1
    finish(Wizard(Client()), routine_answers(email="first@example.test"))
    answers = routine_answers(email="second@example.test")
    wizard.walk(answers, SELF_STEPS[:-1])
    refused = wizard.post("check", {})
    assert refused.status_code == 429
    assert "Too many referrals have been sent from this connection" in text(refused)
    settings.REFERRAL_SUBMISSIONS_PER_IP = 5
    assert wizard.post("check", {})["Location"] == "/refer/sent/"
    assert Referral.objects.filter(email="second@example.test").exists()


def test_the_limit_is_per_client_behind_the_trusted_proxy(wizard, settings):
    settings.REFERRAL_SUBMISSIONS_PER_IP = 1
    settings.TRUSTED_PROXY_COUNT = 1
    for number, address in enumerate(["203.0.113.5", "203.0.113.6"]):
        client = Client(HTTP_X_FORWARDED_FOR=f"10.9.9.9, {address}")
        finish(Wizard(client), routine_answers(email=f"person{number}@example.test"))
    assert Referral.objects.count() == 2


def test_a_database_failure_on_sending_keeps_the_answers_and_says_so(wizard):
    answers = routine_answers()
    wizard.walk(answers, SELF_STEPS[:-1])

    def refuse_referral_inserts(execute, sql, params, many, context):
        if sql.startswith('INSERT INTO "referrals_referral"'):
            raise OperationalError("database unavailable")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(refuse_referral_inserts):
        failed = wizard.post("check", {})
    assert failed.status_code == 503
    assert "was not sent" in text(failed) and "Your answers are kept" in text(failed)
    assert not Referral.objects.exists()
    assert wizard.post("check", {})["Location"] == "/refer/sent/"


def test_a_session_that_cannot_be_saved_keeps_no_referral_and_keeps_the_answers(wizard):
    """The session is saved in the referral's transaction: if it fails, so does the referral,
    and the session still holds the answers for another try."""
    answers = routine_answers()
    wizard.walk(answers, SELF_STEPS[:-1])

    def refuse_session_updates(execute, sql, params, many, context):
        if sql.startswith('UPDATE "django_session"'):
            raise OperationalError("database unavailable")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(refuse_session_updates):
        failed = wizard.post("check", {})
    assert failed.status_code == 503
    assert "was not sent" in text(failed) and "Your answers are kept" in text(failed)
    assert not Referral.objects.exists() and not OutboundMessage.objects.exists()
    assert wizard.post("check", {})["Location"] == "/refer/sent/"
    assert Referral.objects.count() == 1


def test_a_broker_outage_after_sending_still_shows_the_confirmation(
    wizard, monkeypatch, django_capture_on_commit_callbacks
):
    from kombu.exceptions import OperationalError as BrokerUnavailable

    from scheduling.tasks import match_referral

    def broker_down(*args, **kwargs):
        raise BrokerUnavailable("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(match_referral, "apply_async", broker_down)
    monkeypatch.setattr(match_referral, "delay", broker_down)
    wizard.walk(routine_answers(), SELF_STEPS[:-1])
    with django_capture_on_commit_callbacks(execute=True):
        sent = wizard.post("check", {})
    assert sent["Location"] == "/refer/sent/"
    referral = Referral.objects.get()
    assert referral.reference in text(wizard.client.get("/refer/sent/"))
    assert referral.match_requested_at is not None  # what the sweeper looks for


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"self_referral-current_step": "no-such-step"},
        {"self_referral-current_step": "service", "service-program": "x" * 100_000},
        {"self_referral-current_step": "service", "service-program": "dup\x00"},
        {"self_referral-current_step": "check", "wizard_goto_step": "nowhere"},
        {"self_referral-current_step": "service", "service-program": ["dup", "drs4drs"]},
    ],
    ids=["empty", "unknown-step", "huge", "nul", "bad-goto", "repeated"],
)
def test_malformed_posts_get_a_page_not_a_server_error(wizard, payload):
    response = wizard.client.post("/refer/service/", payload)
    assert response.status_code in (200, 302)


@pytest.mark.parametrize("district", ["²", "١٢", "9" * 40, "-1", "1e3"])
def test_a_district_that_is_not_a_plain_number_is_refused_kindly(wizard, district):
    answers = routine_answers()
    wizard.walk(answers, SELF_STEPS[:4])
    response = wizard.post("workplace", {**answers["workplace"], "workplace_district": district})
    assert response.status_code == 200
    assert "There is a problem" in text(response)


def test_a_post_without_the_csrf_token_gets_a_plain_explanation(reference_data):
    strict = Client(enforce_csrf_checks=True)
    response = strict.post("/refer/service/", {"self_referral-current_step": "service"})
    assert response.status_code == 403
    assert "Please try that again" in text(response)


def test_answers_stay_on_the_server_and_out_of_addresses(wizard):
    finish(wizard, routine_answers())
    assert set(wizard.client.cookies) <= {"sessionid", "csrftoken"}
    addresses = [r["Location"] for r in wizard.responses if r.has_header("Location")]
    assert addresses and not any(
        "alex" in a.lower() or "doctor" in a.lower() or "0412" in a for a in addresses
    )


def test_the_confirmation_page_is_only_for_the_session_that_sent_it(wizard):
    finish(wizard, routine_answers())
    other = Client().get("/refer/sent/")
    assert other["Location"] == "/refer/service/"


# Query budget -----------------------------------------------------------------------------


TRANSACTION_CONTROL = re.compile(r"(BEGIN|COMMIT|ROLLBACK|(RELEASE )?SAVEPOINT)\b")


@contextmanager
def at_most_queries(limit: int, label: str):
    """Fail if more than `limit` SQL statements run. Transaction control is not counted: the
    session's save is wrapped in BEGIN/COMMIT in production and, inside a test's transaction,
    in SAVEPOINT/RELEASE instead; neither is a query the page asks for."""
    with CaptureQueriesContext(connection) as captured:
        yield
    statements = [
        q["sql"] for q in captured.captured_queries if not TRANSACTION_CONTROL.match(q["sql"])
    ]
    assert len(statements) <= limit, (label, statements)


def test_each_step_is_shown_and_answered_within_five_queries(wizard):
    answers = routine_answers()
    wizard.get("service")  # the session now exists
    for step in SELF_STEPS[:-1]:
        with at_most_queries(5, f"GET {step}"):
            wizard.get(step)
        with at_most_queries(5, f"POST {step}"):
            assert wizard.post(step, answers[step]).status_code == 302
    with at_most_queries(5, "GET check"):
        wizard.get("check")


# Phone intake -----------------------------------------------------------------------------


@pytest.fixture
def coordinator_client(reference_data) -> Client:
    user = staff_user("coordinator")
    client = sign_in_verified(Client(), user)
    client.user = user
    return client


def test_phone_intake_needs_a_coordinator_signed_in_with_both_factors(reference_data):
    assert "/staff/sign-in/" in Client().get("/intake/phone/service/")["Location"]
    password_only = Client()
    password_only.force_login(staff_user("coordinator"))
    assert password_only.get("/intake/phone/service/")["Location"].startswith("/staff/code/")
    clinician = sign_in_verified(Client(), staff_user("clinician"))
    assert clinician.get("/intake/phone/service/").status_code == 403


def test_a_coordinator_takes_a_phone_referral_with_the_consent_read_out(coordinator_client):
    intake = Wizard(coordinator_client, prefix=INTAKE_PREFIX, url_name="referrals:intake_step")
    answers = routine_answers(program="drs4drs")
    steps = [s if s != "before-you-start" else "consent-read-out" for s in SELF_STEPS]
    intake.walk(answers, steps[:1])
    assert "Read the notice below to the caller" in text(intake.get("consent-read-out"))
    response = intake.walk(answers, steps[1:])
    assert response["Location"] == "/intake/phone/sent/"
    confirmation = text(coordinator_client.get(response["Location"]))
    referral = only_referral()
    assert (referral.source, referral.intake_by) == ("phone", coordinator_client.user)
    assert referral.collection_notice_version == "2026-11"
    assert referral.events.get().actor == coordinator_client.user
    assert "Read it out to the caller" in confirmation


def test_the_same_person_can_self_refer_while_a_coordinator_takes_a_call(coordinator_client):
    # Separate prefixes: one browser can hold both journeys without mixing their answers.
    Wizard(coordinator_client).walk(routine_answers(), SELF_STEPS[:2])
    intake = Wizard(coordinator_client, prefix=INTAKE_PREFIX, url_name="referrals:intake_step")
    assert "Step 1 of 10" in text(intake.get("service"))
    assert coordinator_client.get("/refer/")["Location"] == "/refer/eligibility/"


def test_sending_saves_the_referral_and_its_email_in_seven_statements(wizard):
    """The session read, one INSERT each for the episode, referral, assessment, creation event
    and "request received" email, and the session's update: nothing is read back."""
    answers = routine_answers()
    wizard.get("service")
    wizard.walk(answers, SELF_STEPS[:-1])
    with CaptureQueriesContext(connection) as captured:
        assert wizard.post("check", {})["Location"] == "/refer/sent/"
    statements = [
        q["sql"].split(" ")[0] + " " + q["sql"].split('"')[1]
        for q in captured.captured_queries
        if not TRANSACTION_CONTROL.match(q["sql"])
    ]
    assert statements == [
        "SELECT django_session",
        "INSERT referrals_episode",
        "INSERT referrals_referral",
        "INSERT referrals_triageassessment",
        "INSERT referrals_referralevent",
        "INSERT notifications_outboundmessage",
        "UPDATE django_session",
    ]
    assert OutboundMessage.objects.get().kind == OutboundMessage.Kind.SUBMITTED
