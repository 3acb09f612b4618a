"""The weekly availability and leave pages, shared by coordinators (for any clinician) and the
clinician portal (for the clinician themselves): the same forms, previews and services. The
caller has checked who may see the clinician, and says where the page's links go."""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from scheduling.availability import Session, WeeklyRule
from scheduling.models import Clinician
from scheduling.services import slots_preview

from ..forms.clinicians import AvailabilityRuleForm, TimeOffForm
from ..services import clinicians as clinician_services


@dataclass(frozen=True)
class PageLinks:
    """Where a page's links go: the page itself (after a save) and each entry's remove button;
    `nav_template` is the navigation shown above it."""

    page: str
    remove: Callable[[int], str]
    nav_template: str
    title: str


def availability_page(request: HttpRequest, clinician: Clinician, *, links: PageLinks):
    """The clinician's weekly rules. A new rule can be previewed (the slots it would add) and
    then saved, which brings their slots in line without touching booked ones."""
    form = AvailabilityRuleForm(request.POST if request.method == "POST" else None)
    preview = None
    if request.method == "POST" and form.is_valid():
        if request.POST.get("action") == "save":
            clinician_services.availability_rule_add(clinician=clinician, window=form.window())
            messages.success(request, "Weekly availability saved and slots updated.")
            return redirect(links.page)
        preview = added_slots(clinician, form.window())
    context = {
        "clinician": clinician,
        "links": links,
        "rules": [(rule, links.remove(rule.pk)) for rule in clinician.availability_rules.all()],
        "form": form,
        "preview": preview,
    }
    return render(request, "staff/availability.html", context)


def added_slots(clinician: Clinician, window: WeeklyRule) -> list[Session]:
    """The future slots a new weekly rule would add to what the clinician offers now."""
    rules, leave = clinician_services.current_rules_and_leave(clinician)
    before = set(slots_preview(clinician=clinician, rules=rules, time_off=leave))
    after = slots_preview(clinician=clinician, rules=[*rules, window], time_off=leave)
    return [slot for slot in after if slot not in before]


def leave_page(request: HttpRequest, clinician: Clinician, *, links: PageLinks) -> HttpResponse:
    """The clinician's leave. New leave can be previewed (the slots it withdraws and the
    sessions already inside it) and then saved."""
    data = request.POST if request.method == "POST" else None
    form = TimeOffForm(data, time_zone=clinician.time_zone)
    preview = None
    if request.method == "POST" and form.is_valid():
        starts_at, ends_at = form.cleaned_data["starts_at"], form.cleaned_data["ends_at"]
        if request.POST.get("action") == "save":
            clinician_services.time_off_add(
                clinician=clinician,
                starts_at=starts_at,
                ends_at=ends_at,
                note=form.cleaned_data["note"],
            )
            messages.success(request, "Leave saved; open slots inside it are withdrawn.")
            return redirect(links.page)
        preview = leave_preview(clinician, starts_at, ends_at)
    time_off = [
        (
            entry,
            clinician_services.sessions_clashing_with(clinician, entry.starts_at, entry.ends_at),
            links.remove(entry.pk),
        )
        for entry in clinician.time_off.filter(ends_at__gte=timezone.now())
    ]
    context = {
        "clinician": clinician,
        "links": links,
        "form": form,
        "preview": preview,
        "time_off": time_off,
    }
    return render(request, "staff/leave.html", context)


def leave_preview(clinician: Clinician, starts_at: dt.datetime, ends_at: dt.datetime) -> dict:
    """The open slots new leave would withdraw, and the sessions already inside it."""
    rules, leave = clinician_services.current_rules_and_leave(clinician)
    before = slots_preview(clinician=clinician, rules=rules, time_off=leave)
    after = set(
        slots_preview(clinician=clinician, rules=rules, time_off=[*leave, (starts_at, ends_at)])
    )
    return {
        "withdrawn": [slot for slot in before if slot not in after],
        "clashes": clinician_services.sessions_clashing_with(clinician, starts_at, ends_at),
    }
