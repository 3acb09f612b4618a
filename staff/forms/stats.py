"""The statistics page's choice of months and program."""

import datetime as dt

from django import forms
from django.conf import settings

from referrals.models import Program

LONGEST_SPAN_MONTHS = 36


class MonthField(forms.DateField):
    """A month typed as YYYY-MM (what a browser's month picker sends), as its first day."""

    widget = forms.DateInput(attrs={"type": "month"})
    input_formats = ["%Y-%m"]

    def prepare_value(self, value):
        return value.strftime("%Y-%m") if isinstance(value, dt.date) else value


def months_before(month: dt.date, count: int) -> dt.date:
    index = month.year * 12 + month.month - 1 - count
    return dt.date(index // 12, index % 12 + 1, 1)


class StatsFilterForm(forms.Form):
    from_month = MonthField(label="From month", required=False, help_text="As YYYY-MM.")
    to_month = MonthField(label="To month", required=False, help_text="As YYYY-MM.")
    program = forms.ModelChoiceField(
        Program.objects.all(), required=False, to_field_name="code", empty_label="All programs"
    )

    def __init__(self, *args, today: dt.date, **kwargs):
        super().__init__(*args, **kwargs)
        self.this_month = today.replace(day=1)

    def clean(self):
        data = super().clean()
        to_month = data.get("to_month") or self.this_month
        from_month = data.get("from_month") or months_before(
            to_month, settings.STATS_DEFAULT_MONTHS - 1
        )
        if from_month > to_month:
            self.add_error("from_month", "The first month must not be after the last.")
        elif months_before(to_month, LONGEST_SPAN_MONTHS - 1) > from_month:
            self.add_error("from_month", f"Choose at most {LONGEST_SPAN_MONTHS} months.")
        data["from_month"], data["to_month"] = from_month, to_month
        return data
