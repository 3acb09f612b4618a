import pytest

from referrals.eligibility import Person, ProgramRules, eligible_codes, is_eligible
from referrals.reference_data import PROGRAMS

RULES = {
    p["code"]: ProgramRules(
        p["code"], tuple(p["eligible_career_stages"]), p.get("is_nsw_health_only", False)
    )
    for p in PROGRAMS
}


def person(career_stage="resident", state="NSW", employer_state="NSW") -> Person:
    return Person(career_stage=career_stage, state=state, employer_state=employer_state)


@pytest.mark.parametrize("stage", ["medical_student", "intern", "resident", "registrar"])
def test_dup_is_open_to_students_and_doctors_in_training_with_nsw_health(stage):
    assert is_eligible(RULES["dup"], person(career_stage=stage))


@pytest.mark.parametrize(
    "who",
    [
        person(state="VIC", employer_state="VIC"),
        person(state="NSW", employer_state="VIC"),
        person(state="NSW", employer_state=None),
        person(career_stage="other_doctor"),
    ],
)
def test_dup_is_closed_outside_nsw_health_and_to_senior_doctors(who):
    assert not is_eligible(RULES["dup"], who)


def test_the_jmo_support_line_is_for_jmos_not_students():
    assert is_eligible(RULES["jmo-support-line"], person(career_stage="intern"))
    assert not is_eligible(RULES["jmo-support-line"], person(career_stage="medical_student"))


@pytest.mark.parametrize("state", ["NSW", "VIC", "WA", "NT"])
@pytest.mark.parametrize("stage", ["medical_student", "other_doctor"])
def test_drs4drs_is_open_to_every_doctor_and_student_in_australia(state, stage):
    assert is_eligible(
        RULES["drs4drs"], person(career_stage=stage, state=state, employer_state=None)
    )


def test_someone_outside_nsw_is_pointed_at_a_service_that_fits():
    codes = eligible_codes(
        [RULES["dup"], RULES["jmo-support-line"], RULES["drs4drs"]],
        person(state="QLD", employer_state=None),
    )
    assert codes == ["drs4drs"]
