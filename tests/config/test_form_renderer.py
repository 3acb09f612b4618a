"""config.form_renderer writes the markup Django's own widget templates would, character for
character, for every widget of every form in the project and for the edge cases of each."""

import datetime as dt

import pytest
from django import forms
from django.forms.renderers import DjangoTemplates, get_default_renderer
from django.utils.safestring import mark_safe

from config.form_renderer import IN_PYTHON, WidgetRenderer
from referrals import forms as step_forms
from referrals.selectors import Catalogue
from referrals.views import STEP_FORMS
from staff.forms import auth, cases, clinicians, stats
from tests.referrals.factories import reference_data_ensure

DJANGO = DjangoTemplates()
OURS = WidgetRenderer()


def both_ways(form: forms.Form) -> list[tuple[str, str]]:
    """(Django's markup, ours) for every field of the form and every choice of each."""
    pairs = []
    for name in form.fields:
        rendered = []
        for renderer in (DJANGO, OURS):
            form.renderer = renderer
            bound = forms.BoundField(form, form.fields[name], name)
            choices = [str(choice) + choice.tag() for choice in bound.subwidgets]
            rendered.append(str(bound) + "".join(choices))
        pairs.append((rendered[0], rendered[1]))
    return pairs


def project_forms() -> list[forms.Form]:
    reference_data_ensure()
    catalogue = Catalogue()
    program = catalogue.program("dup")
    made = []
    for _step, form_class in STEP_FORMS:
        made.append(form_class(catalogue=catalogue, program=program, prefix="step"))
        made.append(form_class({"step-website": "<b>"}, catalogue=catalogue, prefix="step"))
    made.append(
        step_forms.WorkplaceForm(
            initial={"workplace_district": str(catalogue.districts[0].pk)}, catalogue=catalogue
        )
    )
    made += [cases.DashboardFilterForm(), cases.DashboardFilterForm({"program": "nope"})]
    made += [stats.StatsFilterForm(today=dt.date(2026, 12, 1)), auth.CodeForm(), auth.SignInForm()]
    made += [clinicians.TimeOffForm(time_zone="Australia/Sydney"), clinicians.ClinicianForm()]
    made += [clinicians.AvailabilityRuleForm(), clinicians.CapacityForm(), cases.NoteForm()]
    made += [cases.RescheduleForm(slot_choices=[(1, "Mon 1 Dec, 09:00")]), cases.CloseForm()]
    return made


@pytest.mark.django_db
def test_every_project_form_renders_as_djangos_templates_render_it():
    compared = 0
    for form in project_forms():
        for django_markup, our_markup in both_ways(form):
            assert our_markup == django_markup, type(form).__name__
            compared += 1
    assert compared > 50


class EdgeCases(forms.Form):
    text = forms.CharField(
        label="A <label>", initial='"quoted" & <tagged>', help_text="hint", max_length=5
    )
    number = forms.IntegerField(initial=1234567, widget=forms.NumberInput(attrs={"step": 2}))
    hidden = forms.CharField(widget=forms.HiddenInput, required=False)
    flag = forms.BooleanField(initial=True, required=False, disabled=True)
    choose = forms.ChoiceField(
        choices=[
            ("", "Choose one"),
            ("Group <one>", [(1, "One & only"), ("2", mark_safe("<em>Two</em>"))]),
            (None, "No value"),
            (3, 3),
            (4, dt.datetime(2026, 12, 1, 9, 30, tzinfo=dt.UTC)),
        ],
        initial=1,
        widget=forms.Select(attrs={"data-x": "", "autofocus": True, "hidden": False}),
    )
    several = forms.MultipleChoiceField(
        choices=[("a", "A"), ("b", "B"), ("c", "C")], initial=["a", "c"], required=False
    )
    radios = forms.ChoiceField(
        choices=[("y", "Yes"), ("n", 'No "really"')],
        widget=forms.RadioSelect(attrs={"class": "inline"}),
    )
    boxes = forms.MultipleChoiceField(
        choices=[("Week", [("mon", "Monday"), ("tue", "Tuesday")])],
        initial=["tue"],
        widget=forms.CheckboxSelectMultiple,
    )
    email = forms.EmailField(widget=forms.EmailInput(attrs={"spellcheck": "false"}))
    phone = forms.CharField(widget=forms.TextInput(attrs={"type": "tel", "inputmode": "tel"}))


@pytest.mark.parametrize(
    "data",
    [None, {"text": "too long <x>", "choose": "3", "radios": "n", "boxes": ["mon", "bad"]}],
    ids=["unbound", "bound with errors"],
)
def test_edge_cases_render_as_djangos_templates_render_them(data):
    form = EdgeCases(data, auto_id="id-%s")
    for django_markup, our_markup in both_ways(form):
        assert our_markup == django_markup


def test_no_ids_and_a_custom_option_template_fall_back_to_django():
    class OwnOption(forms.Select):
        option_template_name = "django/forms/widgets/select_option.html"

    form = EdgeCases(auto_id=False)
    form.fields["choose"].widget = OwnOption(choices=form.fields["choose"].choices)
    form.fields["choose"].widget.option_template_name = "django/forms/widgets/input_option.html"
    for django_markup, our_markup in both_ways(form):
        assert our_markup == django_markup


def test_the_site_uses_the_renderer_for_the_widget_templates_it_knows():
    assert isinstance(get_default_renderer(), WidgetRenderer)
    assert "django/forms/widgets/select.html" in IN_PYTHON
    assert "django/forms/widgets/radio_option.html" in IN_PYTHON
