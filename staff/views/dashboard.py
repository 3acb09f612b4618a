"""The coordinator dashboard: what needs a human now, filtered and paged."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from referrals.models import Referral

from .. import access, selectors
from ..forms.cases import DashboardFilterForm


def _filters(request: HttpRequest) -> tuple[DashboardFilterForm, selectors.QueueFilters]:
    form = DashboardFilterForm(request.GET)
    if not form.is_valid():
        return form, selectors.QueueFilters()
    data = form.cleaned_data
    filters = selectors.QueueFilters(
        program=data["program"], district=data["district"], reference=data["reference"]
    )
    return form, filters


def intake_url() -> str:
    """Where phone intake starts: the wizard in intake mode."""
    return reverse("referrals:intake")


@access.coordinator_required
def dashboard(request: HttpRequest) -> HttpResponse:
    form, filters = _filters(request)
    if filters.reference:
        exact = Referral.objects.filter(reference=filters.reference).values("reference").first()
        if exact is not None:
            return redirect("coordinate:case", reference=exact["reference"])
    pages = {key: request.GET.get(f"{key}_page") for key, _title, _text in selectors.QUEUES}
    queues = selectors.dashboard_queues(filters, pages=pages)
    _link_cases(queues)
    context = {
        "form": form,
        "queues": queues,
        "intake_url": intake_url(),
        "poll_seconds": settings.STAFF_DASHBOARD_POLL_SECONDS,
        "filter_query": _query_without_pages(request),
    }
    return render(request, "staff/dashboard.html", context)


# Reversed in place of a reference, then replaced by each row's own (references are upper-case
# letters and digits, so never this).
_ANY_REFERENCE = "~reference~"


def _link_cases(queues: list[selectors.Queue]) -> None:
    """Give every row the address of its case page, as `case_url`. reverse() costs about 30 µs
    and a full dashboard links 120 rows, so the address is reversed once and each row's
    reference put in its place; one reverse() would quote nothing in such a reference."""
    head, _, tail = reverse("coordinate:case", args=[_ANY_REFERENCE]).rpartition(_ANY_REFERENCE)
    for queue in queues:
        for row in queue.page:
            reference = row.reference if isinstance(row, Referral) else row.referral.reference
            if reference.isascii() and reference.isalnum():
                row.case_url = f"{head}{reference}{tail}"
            else:
                row.case_url = reverse("coordinate:case", args=[reference])


def _query_without_pages(request: HttpRequest) -> str:
    query = request.GET.copy()
    for key in list(query):
        if key.endswith("_page"):
            del query[key]
    return query.urlencode()


@access.coordinator_required
def counts(request: HttpRequest) -> JsonResponse:
    """The queue sizes for the dashboard's periodic check; counts only, nothing personal."""
    _form, filters = _filters(request)
    return JsonResponse({"counts": selectors.queue_counts(filters)})
