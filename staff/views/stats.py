"""Statistics per program and month: charts and tables on the page, and the same as CSV.
Counts only, small ones withheld; nothing here names or describes a person."""

import csv

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from .. import access, stats
from ..charts import bar_chart
from ..forms.stats import StatsFilterForm


def _report(request: HttpRequest) -> tuple[StatsFilterForm, list[stats.ProgramStats] | None]:
    form = StatsFilterForm(request.GET, today=timezone.localdate())
    if not form.is_valid():
        return form, None
    data = form.cleaned_data
    results = stats.program_stats(
        from_month=data["from_month"], to_month=data["to_month"], program=data["program"]
    )
    return form, results


def _section(result: stats.ProgramStats) -> dict:
    rows = [(month, stats.ShownFigures.of(figures)) for month, figures in result.months]
    small = settings.STATS_SMALL_COUNT

    def chart(title: str, name: str):
        points = [
            (f"{month:%b %y}", getattr(figures, name), stats.shown_count(getattr(figures, name)))
            for month, figures in result.months
        ]
        return bar_chart(title, points, small=small)

    return {
        "program": result.program,
        "rows": rows,
        "total": stats.ShownFigures.of(result.whole_period),
        "charts": [
            (f"{result.program.code}-referrals", chart("Referrals per month", "referrals")),
            (
                f"{result.program.code}-sessions",
                chart("Sessions completed per month", "sessions_completed"),
            ),
        ],
    }


@access.coordinator_required
def stats_page(request: HttpRequest) -> HttpResponse:
    form, results = _report(request)
    context = {
        "form": form,
        "sections": [_section(result) for result in results or []],
        "columns": stats.CSV_COLUMNS,
        "small": settings.STATS_SMALL_COUNT,
        "csv_query": request.GET.urlencode(),
    }
    return render(request, "staff/stats.html", context, status=200 if results is not None else 400)


@access.coordinator_required
def stats_csv(request: HttpRequest) -> HttpResponse:
    form, results = _report(request)
    if results is None:
        errors = "; ".join(str(e) for errors in form.errors.values() for e in errors)
        return HttpResponse(errors, status=400, content_type="text/plain; charset=utf-8")
    data = form.cleaned_data
    filename = f"statistics-{data['from_month']:%Y-%m}-to-{data['to_month']:%Y-%m}.csv"
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response)
    writer.writerow(["Program", "Month", *(title for _name, title in stats.CSV_COLUMNS)])
    for result in results:
        periods = [(f"{month:%Y-%m}", figures) for month, figures in result.months]
        periods.append(("whole period", result.whole_period))
        for label, figures in periods:
            shown = stats.ShownFigures.of(figures)
            values = [getattr(shown, name) for name, _title in stats.CSV_COLUMNS]
            writer.writerow([result.program.short_name, label, *values])
    return response
