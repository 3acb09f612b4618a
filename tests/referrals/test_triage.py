"""The triage rules, each boundary, and properties over every possible set of answers."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from referrals import triage
from referrals.triage import Outcome, SafetyAnswers, assess


def answers(**changes) -> SafetyAnswers:
    fields = {
        "is_safe_now": "yes",
        "self_harm_thoughts": "not_at_all",
        "has_plan": "",
        "recent_self_harm": "no",
        "worried_harm_others": "no",
        "k10": None,
    }
    fields.update(changes)
    return SafetyAnswers(**fields)


def k10_totalling(total: int) -> tuple[int, ...]:
    items = [1] * 10
    for index in range(total - 10):
        items[index % 10] += 1
    return tuple(items)


def test_no_concerns_are_routine_and_say_so():
    result = assess(answers())
    assert result.outcome == Outcome.ROUTINE
    assert result.rule_fired == triage.ROUTINE_RULE
    assert result.rule_version == triage.RULE_VERSION


@pytest.mark.parametrize("is_safe_now", ["no", "not_sure"])
def test_not_feeling_safe_or_not_sure_is_urgent(is_safe_now):
    result = assess(answers(is_safe_now=is_safe_now))
    assert (result.outcome, result.rule_fired) == (Outcome.URGENT, "urgent.not_safe_now")


@pytest.mark.parametrize("has_plan", ["yes", "not_sure"])
@pytest.mark.parametrize("thoughts", ["several_days", "more_than_half", "nearly_every_day"])
def test_a_plan_or_intent_or_not_being_sure_is_urgent(thoughts, has_plan):
    result = assess(answers(self_harm_thoughts=thoughts, has_plan=has_plan))
    assert (result.outcome, result.rule_fired) == (Outcome.URGENT, "urgent.plan_or_intent")


def test_self_harm_in_the_last_month_is_urgent():
    result = assess(answers(recent_self_harm="yes"))
    assert (result.outcome, result.rule_fired) == (Outcome.URGENT, "urgent.recent_self_harm")


def test_worry_about_harming_someone_else_is_urgent():
    result = assess(answers(worried_harm_others="yes"))
    assert (result.outcome, result.rule_fired) == (Outcome.URGENT, "urgent.may_harm_others")


@pytest.mark.parametrize("thoughts", ["several_days", "more_than_half", "nearly_every_day"])
def test_any_thoughts_of_self_harm_without_a_plan_are_priority(thoughts):
    result = assess(answers(self_harm_thoughts=thoughts, has_plan="no"))
    assert (result.outcome, result.rule_fired) == (Outcome.PRIORITY, "priority.self_harm_thoughts")


def test_preferring_not_to_say_about_self_harm_is_priority():
    result = assess(answers(recent_self_harm="prefer_not_to_say"))
    assert result.outcome == Outcome.PRIORITY
    assert result.rule_fired == "priority.self_harm_not_disclosed"


@pytest.mark.parametrize(
    ("total", "outcome"),
    [(10, Outcome.ROUTINE), (29, Outcome.ROUTINE), (30, Outcome.PRIORITY), (50, Outcome.PRIORITY)],
)
def test_a_k10_score_of_30_or_more_is_priority(total, outcome):
    result = assess(answers(k10=k10_totalling(total)))
    assert result.outcome == outcome
    assert result.k10_score == total
    if outcome == Outcome.PRIORITY:
        assert result.rule_fired == "priority.k10_high"


def test_an_urgent_answer_outranks_every_priority_one():
    result = assess(
        answers(
            worried_harm_others="yes",
            self_harm_thoughts="nearly_every_day",
            has_plan="no",
            k10=k10_totalling(50),
        )
    )
    assert (result.outcome, result.rule_fired) == (Outcome.URGENT, "urgent.may_harm_others")


def test_the_answers_are_kept_as_given_for_the_record():
    record = answers(k10=k10_totalling(31)).as_record()
    assert record["k10"] == list(k10_totalling(31))
    assert record["has_plan"] == ""


@pytest.mark.parametrize(
    "changes",
    [
        {"is_safe_now": "maybe"},
        {"self_harm_thoughts": "often"},
        {"has_plan": "yes"},  # asked only when there are thoughts
        {"recent_self_harm": "sometimes"},
        {"worried_harm_others": "not_sure"},
        {"k10": (1,) * 9},
        {"k10": (0,) * 10},
        {"k10": (6,) * 10},
        {"k10": (True,) * 10},
    ],
)
def test_answers_that_do_not_fit_the_questions_are_refused(changes):
    with pytest.raises(triage.InvalidAnswers):
        answers(**changes)


@pytest.mark.parametrize(
    "unanswered",
    [
        {"is_safe_now": ""},
        {"self_harm_thoughts": ""},
        {"self_harm_thoughts": "several_days", "has_plan": ""},
        {"recent_self_harm": ""},
        {"worried_harm_others": ""},
    ],
)
def test_a_non_urgent_assessment_needs_every_question_answered(unanswered):
    with pytest.raises(triage.InvalidAnswers):
        assess(answers(**unanswered))


def test_saying_you_are_not_safe_is_urgent_whatever_is_left_unanswered():
    given = SafetyAnswers("no", "", "", "", "")
    assert not given.is_complete
    assert assess(given).rule_fired == "urgent.not_safe_now"


def test_a_plan_is_urgent_even_when_the_question_before_it_was_skipped():
    assert assess(answers(self_harm_thoughts="", has_plan="yes")).outcome == Outcome.URGENT


valid_answers = st.builds(
    lambda safe, thoughts, plan, harm, others, k10: answers(
        is_safe_now=safe,
        self_harm_thoughts=thoughts,
        has_plan="" if thoughts == "not_at_all" else plan,
        recent_self_harm=harm,
        worried_harm_others=others,
        k10=k10,
    ),
    st.sampled_from(triage.SAFE_NOW_CHOICES),
    st.sampled_from(triage.THOUGHTS_CHOICES),
    st.sampled_from(triage.PLAN_CHOICES),
    st.sampled_from(triage.SELF_HARM_CHOICES),
    st.sampled_from(triage.HARM_OTHERS_CHOICES),
    st.none() | st.tuples(*[st.integers(1, 5)] * 10),
)


@given(valid_answers)
def test_urgent_exactly_when_an_urgent_condition_holds(given_answers):
    is_urgent = (
        given_answers.is_safe_now in ("no", "not_sure")
        or (given_answers.has_thoughts and given_answers.has_plan in ("yes", "not_sure"))
        or given_answers.recent_self_harm == "yes"
        or given_answers.worried_harm_others == "yes"
    )
    assert (assess(given_answers).outcome == Outcome.URGENT) == is_urgent


@given(valid_answers)
def test_priority_exactly_when_not_urgent_and_a_priority_condition_holds(given_answers):
    result = assess(given_answers)
    score = given_answers.k10_score
    is_priority_condition = (
        given_answers.has_thoughts
        or given_answers.recent_self_harm == "prefer_not_to_say"
        or (score is not None and score >= 30)
    )
    if result.outcome != Outcome.URGENT:
        assert (result.outcome == Outcome.PRIORITY) == is_priority_condition
    assert result.rule_fired.split(".")[0] == result.outcome.value


@given(st.lists(st.integers(1, 5), min_size=10, max_size=10))
def test_a_k10_score_is_the_sum_of_its_ten_answers(items):
    assert 10 <= triage.k10_score(items) == sum(items) <= 50


partial_answers = st.builds(
    lambda safe, thoughts, plan, harm, others: SafetyAnswers(
        is_safe_now=safe,
        self_harm_thoughts=thoughts,
        has_plan="" if thoughts == "not_at_all" else plan,
        recent_self_harm=harm,
        worried_harm_others=others,
    ),
    st.sampled_from(("", *triage.SAFE_NOW_CHOICES)),
    st.sampled_from(("", *triage.THOUGHTS_CHOICES)),
    st.sampled_from(("", *triage.PLAN_CHOICES)),
    st.sampled_from(("", *triage.SELF_HARM_CHOICES)),
    st.sampled_from(("", *triage.HARM_OTHERS_CHOICES)),
)


@given(partial_answers)
def test_however_few_answers_any_urgent_one_makes_the_outcome_urgent(given_answers):
    urgent_answer = (
        given_answers.is_safe_now in ("no", "not_sure")
        or given_answers.has_plan in ("yes", "not_sure")
        or given_answers.recent_self_harm == "yes"
        or given_answers.worried_harm_others == "yes"
    )
    assert triage.is_urgent(given_answers) == urgent_answer
    if urgent_answer or given_answers.is_complete:
        assert (assess(given_answers).outcome == Outcome.URGENT) == urgent_answer
    else:
        with pytest.raises(triage.InvalidAnswers):
            assess(given_answers)
