"""The wizard's step forms: choices shared between copies of a form."""

from django import forms

from referrals.forms import FixedChoices, StepForm


def test_plain_choices_are_shared_and_lazy_ones_stay_lazy():
    read = []

    def choices_from_somewhere():
        read.append(True)
        return [("later", "Read when a form is built")]

    class Step(StepForm):
        plain = forms.ChoiceField(choices=[("now", "Known when the class is made")])
        lazy = forms.ChoiceField(choices=choices_from_somewhere)

    assert isinstance(Step.base_fields["plain"].choices, FixedChoices)
    assert read == []
    first, second = Step(), Step()
    assert first.fields["plain"].choices is second.fields["plain"].choices
    assert list(first.fields["lazy"].choices) == [("later", "Read when a form is built")]
    assert read
