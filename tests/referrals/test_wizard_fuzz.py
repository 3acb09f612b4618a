"""Hostile or malformed posts to every step get a page, never a server error."""

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from referrals.views import STEP_FORMS
from tests.referrals.wizard import SELF_STEPS, Wizard, routine_answers

pytestmark = pytest.mark.django_db

FIELDS_ADDED_AT_RUN_TIME = {
    "whats-going-on": ["details"],
    "wellbeing-check": [f"k10_{n}" for n in range(1, 11)],
}
STEP_FIELDS = {
    step: [*form.base_fields, *FIELDS_ADDED_AT_RUN_TIME.get(step, []), "unexpected"]
    for step, form in STEP_FORMS
}
PLAUSIBLE = ["", "on", "True", "False", "yes", "no", "not_sure", "dup", "drs4drs", "0", "-1"]
PLAUSIBLE += ["9" * 30, "²", "١٢", "NSW", "resident", "not_at_all", "mon-morning"]
BUTTONS = ["refresh_facilities", "switch_program", "skip_questions", "wizard_goto_step"]
value = st.sampled_from(PLAUSIBLE) | st.text(
    st.characters(blacklist_categories=("Cs",)), max_size=300
)
ANSWERED = {200, 302, 429}


def walked_to(step: str) -> Wizard:
    wizard = Wizard(Client())
    answers = routine_answers(program="drs4drs")
    wizard.walk(answers, SELF_STEPS[: SELF_STEPS.index(step)])
    return wizard


@pytest.mark.parametrize("step", SELF_STEPS)
def test_any_post_to_a_step_is_answered_without_a_server_error(reference_data, step):
    wizard = walked_to(step)

    @settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.dictionaries(st.sampled_from(STEP_FIELDS[step]), value | st.lists(value, max_size=3)))
    def post(fields):
        response = wizard.post(step, fields)
        assert response.status_code in ANSWERED

    post()


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    current_step=value,
    goto=st.none() | value,
    extra=st.dictionaries(value, value, max_size=4),
)
def test_any_wizard_bookkeeping_is_answered_without_a_server_error(
    reference_data, current_step, goto, extra
):
    payload = {"self_referral-current_step": current_step, **extra}
    if goto is not None:
        payload["wizard_goto_step"] = goto
    response = Client().post("/refer/service/", payload)
    assert response.status_code in ANSWERED
