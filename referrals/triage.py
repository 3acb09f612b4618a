"""Safety triage: versioned rules that turn a person's safety answers into an outcome.

Pure: no Django, no I/O. The rules are data, checked in order; the first that matches decides
the outcome and is recorded by name with RULE_VERSION. Change RULE_VERSION whenever a rule, a
question's choices or the K10 threshold changes, so every stored assessment can be explained by
the rules that made it.

Questions:
  (a) is_safe_now            Are you safe right now?             yes / no / not_sure
  (b) self_harm_thoughts     Over the last two weeks, thoughts of being better off dead or of
                             hurting yourself?  not_at_all / several_days / more_than_half /
                             nearly_every_day
  (c) has_plan               Only when (b) is not not_at_all: a plan or intent to act?
                             yes / no / not_sure
  (d) recent_self_harm       Harmed yourself, or tried to, in the last month?
                             yes / no / prefer_not_to_say
  (e) worried_harm_others    Worried you might harm someone else?  yes / no
  (f) k10                    Optional: the ten Kessler (K10) answers, each 1–5 (score 10–50).

An empty answer means "not answered". Urgent rules act on whatever was answered, so a person
who says they are not safe is diverted without having to answer the rest; a non-urgent
assessment needs every question answered (`is_complete`).
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

RULE_VERSION = "2026.1"

# The K10 threshold is part of the versioned rules rather than a deployment setting: an
# assessment must be explainable by its rule version alone.
K10_PRIORITY_THRESHOLD = 30
K10_ITEM_COUNT = 10
K10_ITEM_MIN, K10_ITEM_MAX = 1, 5

YES, NO, NOT_SURE = "yes", "no", "not_sure"
PREFER_NOT_TO_SAY = "prefer_not_to_say"
NOT_AT_ALL = "not_at_all"
NOT_ANSWERED = ""

SAFE_NOW_CHOICES = (YES, NO, NOT_SURE)
THOUGHTS_CHOICES = (NOT_AT_ALL, "several_days", "more_than_half", "nearly_every_day")
PLAN_CHOICES = (YES, NO, NOT_SURE)
SELF_HARM_CHOICES = (YES, NO, PREFER_NOT_TO_SAY)
HARM_OTHERS_CHOICES = (YES, NO)


class Outcome(StrEnum):
    ROUTINE = "routine"
    PRIORITY = "priority"
    URGENT = "urgent"


class InvalidAnswers(ValueError):
    """The answers do not fit the questions (an unknown choice or a malformed K10)."""


@dataclass(frozen=True)
class SafetyAnswers:
    is_safe_now: str
    self_harm_thoughts: str
    has_plan: str  # NOT_ANSWERED when (b) is not_at_all: the question was not asked
    recent_self_harm: str
    worried_harm_others: str
    k10: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        _check_choice("is_safe_now", self.is_safe_now, SAFE_NOW_CHOICES)
        _check_choice("self_harm_thoughts", self.self_harm_thoughts, THOUGHTS_CHOICES)
        if self.self_harm_thoughts == NOT_AT_ALL and self.has_plan:
            raise InvalidAnswers("has_plan is only asked when there are thoughts of self-harm")
        _check_choice("has_plan", self.has_plan, PLAN_CHOICES)
        _check_choice("recent_self_harm", self.recent_self_harm, SELF_HARM_CHOICES)
        _check_choice("worried_harm_others", self.worried_harm_others, HARM_OTHERS_CHOICES)
        if self.k10 is not None:
            k10_score(self.k10)

    @property
    def has_thoughts(self) -> bool:
        return self.self_harm_thoughts not in (NOT_AT_ALL, NOT_ANSWERED)

    @property
    def is_complete(self) -> bool:
        """Every question answered that the answers call for."""
        required = [
            self.is_safe_now,
            self.self_harm_thoughts,
            self.recent_self_harm,
            self.worried_harm_others,
        ]
        if self.has_thoughts:
            required.append(self.has_plan)
        return all(required)

    @property
    def k10_score(self) -> int | None:
        return None if self.k10 is None else k10_score(self.k10)

    def as_record(self) -> dict:
        """The answers as stored with the assessment."""
        return {
            "is_safe_now": self.is_safe_now,
            "self_harm_thoughts": self.self_harm_thoughts,
            "has_plan": self.has_plan,
            "recent_self_harm": self.recent_self_harm,
            "worried_harm_others": self.worried_harm_others,
            "k10": list(self.k10) if self.k10 is not None else None,
        }


@dataclass(frozen=True)
class Rule:
    name: str
    outcome: Outcome
    applies: Callable[[SafetyAnswers], bool]


@dataclass(frozen=True)
class TriageResult:
    outcome: Outcome
    rule_fired: str
    rule_version: str
    k10_score: int | None


ROUTINE_RULE = "routine.no_rule_matched"

RULES: tuple[Rule, ...] = (
    Rule("urgent.not_safe_now", Outcome.URGENT, lambda a: a.is_safe_now in (NO, NOT_SURE)),
    # A plan is only asked about after thoughts of self-harm, so a plan counts unless the
    # person said they had no such thoughts.
    Rule(
        "urgent.plan_or_intent",
        Outcome.URGENT,
        lambda a: a.self_harm_thoughts != NOT_AT_ALL and a.has_plan in (YES, NOT_SURE),
    ),
    Rule("urgent.recent_self_harm", Outcome.URGENT, lambda a: a.recent_self_harm == YES),
    Rule("urgent.may_harm_others", Outcome.URGENT, lambda a: a.worried_harm_others == YES),
    Rule("priority.self_harm_thoughts", Outcome.PRIORITY, lambda a: a.has_thoughts),
    Rule(
        "priority.self_harm_not_disclosed",
        Outcome.PRIORITY,
        lambda a: a.recent_self_harm == PREFER_NOT_TO_SAY,
    ),
    Rule(
        "priority.k10_high",
        Outcome.PRIORITY,
        lambda a: a.k10_score is not None and a.k10_score >= K10_PRIORITY_THRESHOLD,
    ),
)


def assess(answers: SafetyAnswers) -> TriageResult:
    """The outcome of the first rule that applies, or ROUTINE when none does.

    Only an urgent outcome may rest on incomplete answers; otherwise InvalidAnswers.
    """
    if not answers.is_complete and not is_urgent(answers):
        raise InvalidAnswers("every safety question needs an answer")
    for rule in RULES:  # urgent rules come first
        if rule.applies(answers):
            return TriageResult(rule.outcome, rule.name, RULE_VERSION, answers.k10_score)
    return TriageResult(Outcome.ROUTINE, ROUTINE_RULE, RULE_VERSION, answers.k10_score)


def is_urgent(answers: SafetyAnswers) -> bool:
    """True when the answers given so far, however few, already make the outcome urgent."""
    return any(rule.applies(answers) for rule in RULES if rule.outcome == Outcome.URGENT)


def k10_score(items: Sequence[int]) -> int:
    """The K10 total (10–50); InvalidAnswers unless there are ten answers of 1–5."""
    if len(items) != K10_ITEM_COUNT or any(
        isinstance(item, bool) or not isinstance(item, int) for item in items
    ):
        raise InvalidAnswers("the K10 needs ten whole-number answers")
    if any(not K10_ITEM_MIN <= item <= K10_ITEM_MAX for item in items):
        raise InvalidAnswers("each K10 answer is from 1 to 5")
    return sum(items)


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value != NOT_ANSWERED and value not in choices:
        raise InvalidAnswers(f"{name} must be one of {', '.join(choices)}")
