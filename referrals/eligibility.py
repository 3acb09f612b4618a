"""Who may use which program: a pure rule over a program's stated eligibility.

No ORM: callers pass what they know of the program and of the person, so the same rule serves
the wizard, the coordinator's phone intake and the tests.
"""

from collections.abc import Iterable
from dataclasses import dataclass

NSW = "NSW"


@dataclass(frozen=True)
class ProgramRules:
    code: str
    eligible_career_stages: tuple[str, ...]
    is_nsw_health_only: bool


@dataclass(frozen=True)
class Person:
    career_stage: str
    state: str
    employer_state: str | None  # the state of the health district or service; None if none


def is_eligible(program: ProgramRules, person: Person) -> bool:
    """True when the person's career stage is covered and, for NSW Health programs, they work
    (or have their placement) in NSW Health."""
    if person.career_stage not in program.eligible_career_stages:
        return False
    if program.is_nsw_health_only:
        return person.state == NSW and person.employer_state == NSW
    return True


def eligible_codes(programs: Iterable[ProgramRules], person: Person) -> list[str]:
    """The codes of the programs, in the order given, that the person may use."""
    return [program.code for program in programs if is_eligible(program, person)]
