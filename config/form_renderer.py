"""The form renderer (settings.FORM_RENDERER): Django's, with its smallest widget templates done
in Python.

A form field renders through Django's templates, and a select or a group of radio buttons
renders one template, plus an include for its attributes, per option: about 5 ms for the
wizard's district list on this project's shared 2-core machine, half the time the select-heavy
steps spent in the server. These functions write the same markup directly. They are character
for character what Django 5.2's templates under `django/forms/widgets/` produce, and
`tests/config/test_form_renderer.py` renders every widget the project's forms use both ways
to prove it stays so. Every other template (forms, fields, labels, the widgets not named here)
still renders through Django.
"""

from collections.abc import Callable, Mapping

from django.forms.renderers import DjangoTemplates
from django.utils.formats import localize
from django.utils.html import conditional_escape
from django.utils.safestring import SafeData, mark_safe
from django.utils.timezone import template_localtime

WIDGETS = "django/forms/widgets/"


def _text(value) -> str:
    """`{{ value }}` in a template: localised, then escaped unless already safe."""
    value = localize(template_localtime(value))
    return conditional_escape(value if isinstance(value, str) else str(value))


def _as_string(value) -> str:
    """`{{ value|stringformat:'s' }}`."""
    text = "%s" % (str(value) if isinstance(value, tuple) else value)
    return _text(mark_safe(text) if isinstance(value, SafeData) else text)


def _attrs(attrs: Mapping) -> str:
    """attrs.html: ` name="value"` for each attribute, ` name` for True, nothing for False."""
    parts = []
    for name, value in attrs.items():
        if value is True:
            parts.append(f" {_text(name)}")
        elif value is not False:
            parts.append(f' {_text(name)}="{_as_string(value)}"')
    return "".join(parts)


def _input(widget: Mapping) -> str:
    """input.html, with its final newline."""
    value = widget["value"]
    shown = f' value="{_as_string(value)}"' if value is not None else ""
    return (
        f'<input type="{_text(widget["type"])}" name="{_text(widget["name"])}"{shown}'
        f"{_attrs(widget['attrs'])}>\n"
    )


def _input_option(widget: Mapping) -> str:
    """radio_option.html and checkbox_option.html (both include input_option.html)."""
    if not widget.get("wrap_label"):
        return _input(widget) + "\n\n"
    element_id = widget["attrs"].get("id")
    opening = f'<label for="{_text(element_id)}">' if element_id else "<label>"
    return f"{opening}{_input(widget)} {_text(widget['label'])}</label>\n\n"


def _select_option(widget: Mapping) -> str:
    """select_option.html, with its final newline."""
    return (
        f'<option value="{_as_string(widget["value"])}"{_attrs(widget["attrs"])}>'
        f"{_text(widget['label'])}</option>\n"
    )


def _select(widget: Mapping) -> str:
    """select.html, each option through its own template as Django's include would."""
    parts = [f'<select name="{_text(widget["name"])}"{_attrs(widget["attrs"])}>']
    for group_name, options, _index in widget["optgroups"]:
        if group_name:
            parts.append(f'\n  <optgroup label="{_text(group_name)}">')
        for option in options:
            parts.append(f"\n  {_select_option(option)}")
        if group_name:
            parts.append("\n  </optgroup>")
    parts.append("\n</select>\n")
    return "".join(parts)


def _options_are_plain(widget: Mapping) -> bool:
    """Whether a select's options all use Django's option template (a widget could name its
    own, which only Django can render)."""
    return all(
        option["template_name"] == SELECT_OPTION
        for _group, options, _index in widget.get("optgroups", ())
        for option in options
    )


INPUTS = ("text", "email", "tel", "number", "url", "search", "password", "hidden", "checkbox")
IN_PYTHON: dict[str, Callable[[Mapping], str]] = {
    f"{WIDGETS}select.html": _select,
    f"{WIDGETS}select_option.html": _select_option,
    f"{WIDGETS}radio_option.html": _input_option,
    f"{WIDGETS}checkbox_option.html": _input_option,
    **{f"{WIDGETS}{name}.html": _input for name in INPUTS},
}
SELECT_OPTION = f"{WIDGETS}select_option.html"


class WidgetRenderer(DjangoTemplates):
    """Django's default renderer, except for the templates in IN_PYTHON."""

    def render(self, template_name, context, request=None):
        render = IN_PYTHON.get(template_name)
        if render is None or not _options_are_plain(context["widget"]):
            return super().render(template_name, context, request)
        return render(context["widget"]).strip()  # BaseRenderer.render strips as well
