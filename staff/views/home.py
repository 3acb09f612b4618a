"""Where staff land after signing in, and a clinician's week (theirs, or any for coordinators)."""

import datetime as dt
from zoneinfo import ZoneInfo

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from scheduling.models import Clinician

from .. import access, selectors


@access.verified_required
def home(request: HttpRequest) -> HttpResponse:
    """Coordinators go to the dashboard, clinicians to their portal; anyone else (an admin
    account outside the staff groups) sees their links."""
    user = request.user
    if access.is_coordinator(user):
        return redirect("coordinate:dashboard")
    if access.is_clinician(user) and Clinician.objects.filter(user=user).exists():
        return redirect("clinician:sessions")
    return render(request, "staff/home.html")


def _week_start(request: HttpRequest, clinician: Clinician) -> dt.date:
    """The Monday of the requested week (?week=YYYY-MM-DD, any day of it), else this week."""
    try:
        day = dt.date.fromisoformat(request.GET.get("week", ""))
    except ValueError:
        day = timezone.localdate(timezone=ZoneInfo(clinician.time_zone))
    return day - dt.timedelta(days=day.weekday())


@access.staff_required
def clinician_week(request: HttpRequest, clinician_id: int) -> HttpResponse:
    clinician = access.clinician_for(request.user, clinician_id)
    grid = selectors.clinician_week(clinician, _week_start(request, clinician))
    context = {"grid": grid, "is_coordinator": access.is_coordinator(request.user)}
    return render(request, "staff/clinician_week.html", context)
