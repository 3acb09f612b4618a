"""The coordinator dashboard: what needs a human now, filtered and paged."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from referrals.models import Referral

from .. import access, selectors
from ..forms.cases import DashboardFilterForm
from .links import case_links


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
    case_links([row for queue in queues for row in queue.page])
    context = {
        "form": form,
        "queues": queues,
        "intake_url": intake_url(),
        "poll_seconds": settings.STAFF_DASHBOARD_POLL_SECONDS,
        "filter_query": _query_without_pages(request),
    }
    return render(request, "staff/dashboard.html", context)


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
