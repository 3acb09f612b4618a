"""Each wizard form gets its own copy of its fields: what one person's form changes in them
(an error marked on a widget, choices set for their program) no other form sees."""

import copy

import pytest

from referrals.views import STEP_FORMS

pytestmark = pytest.mark.django_db
FORM_CLASSES = sorted({form_class for _step, form_class in STEP_FORMS}, key=lambda c: c.__name__)


@pytest.mark.parametrize("form_class", FORM_CLASSES, ids=lambda c: c.__name__)
def test_every_field_widget_and_their_mutable_parts_are_the_forms_own(form_class):
    form = form_class()
    reference = copy.deepcopy(dict(form_class.base_fields))
    for name in form_class.base_fields:  # __init__ may add fields and set choices of its own
        field = form.fields[name]
        base, expected = form_class.base_fields[name], reference[name]
        assert type(field) is type(base)
        assert field is not base
        assert field.__dict__.keys() == expected.__dict__.keys()
        for attribute in ("error_messages", "validators"):
            assert getattr(field, attribute) is not getattr(base, attribute)
            assert getattr(field, attribute) == getattr(expected, attribute)
        assert type(field.widget) is type(base.widget)
        assert field.widget is not base.widget
        assert field.widget.__dict__.keys() == expected.widget.__dict__.keys()
        assert field.widget.attrs == base.widget.attrs
        assert field.widget.attrs is not base.widget.attrs


@pytest.mark.parametrize("form_class", FORM_CLASSES, ids=lambda c: c.__name__)
def test_what_one_form_changes_in_its_fields_no_other_form_sees(form_class):
    # A field marked invalid in one person's form must not arrive marked in the next one's.
    first, second = form_class(), form_class()
    for name in form_class.base_fields:  # fields added in __init__ are new in every form
        field = first.fields[name]
        field.widget.attrs["aria-invalid"] = "true"
        field.error_messages["required"] = "changed"
        field.validators.append(lambda value: None)
        field.required = not field.required
        field.label = "changed"
        if hasattr(field, "choices"):
            field.choices = [("x", "x")]
        other = second.fields[name]
        assert "aria-invalid" not in other.widget.attrs
        assert other.error_messages.get("required") != "changed"
        assert len(other.validators) == len(form_class.base_fields[name].validators)
        assert other.required == form_class.base_fields[name].required
        assert other.label != "changed"
        if hasattr(other, "choices"):
            assert list(other.choices) != [("x", "x")] or list(
                form_class.base_fields[name].choices
            ) == [("x", "x")]
    third = form_class()
    for field in third.fields.values():
        assert "aria-invalid" not in field.widget.attrs
