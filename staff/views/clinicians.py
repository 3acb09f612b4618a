"""Coordinators looking after clinicians: profiles, weekly availability, leave, deactivation."""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from scheduling.models import Appointment, Clinician

from .. import access, selectors
from ..forms.clinicians import AccountForm, ClinicianForm, DeactivateForm, ReactivateForm
from ..services import clinicians as clinician_services
from .availability import PageLinks, availability_page, leave_page

M2M_FIELDS = ("programs", "districts", "facilities")


def _clinician(clinician_id: int) -> Clinician:
    return get_object_or_404(Clinician.objects.select_related("user"), pk=clinician_id)


def _profile(form: ClinicianForm) -> tuple[dict, dict]:
    data = dict(form.cleaned_data)
    return {k: v for k, v in data.items() if k not in M2M_FIELDS}, {k: data[k] for k in M2M_FIELDS}


@access.coordinator_required
def clinician_list(request: HttpRequest) -> HttpResponse:
    clinicians = Clinician.objects.prefetch_related("programs").order_by(
        "-is_active", "display_name"
    )
    return render(request, "staff/clinician_list.html", {"clinicians": clinicians})


@access.coordinator_required
def clinician_create(request: HttpRequest) -> HttpResponse:
    data = request.POST if request.method == "POST" else None
    account_form = AccountForm(data, prefix="account")
    form = ClinicianForm(data, prefix="clinician")
    if request.method == "POST" and account_form.is_valid() and form.is_valid():
        profile, related = _profile(form)
        try:
            clinician = clinician_services.clinician_create(
                account=account_form.cleaned_data,
                profile=profile,
                base_url=settings.SITE_URL,
                **related,
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(
                request,
                f"{clinician.display_name} added. They will get an email to choose a password "
                "and set up two-factor sign-in.",
            )
            return redirect("coordinate:clinician", clinician_id=clinician.pk)
    context = {"account_form": account_form, "form": form}
    return render(request, "staff/clinician_form.html", context, status=400 if data else 200)


@access.coordinator_required
def clinician_edit(request: HttpRequest, clinician_id: int) -> HttpResponse:
    clinician = _clinician(clinician_id)
    data = request.POST if request.method == "POST" else None
    form = ClinicianForm(data, instance=clinician, prefix="clinician")
    if request.method == "POST" and form.is_valid():
        profile, related = _profile(form)
        clinician_services.clinician_update(clinician_id=clinician.pk, profile=profile, **related)
        messages.success(request, "Profile saved.")
        return redirect("coordinate:clinician", clinician_id=clinician.pk)
    context = {
        "clinician": clinician,
        "form": form,
        "to_move": selectors.sessions_to_move(clinician) if not clinician.is_active else None,
    }
    return render(request, "staff/clinician_form.html", context, status=400 if data else 200)


def _links(clinician: Clinician, page: str, remove: str, title: str) -> PageLinks:
    return PageLinks(
        page=reverse(f"coordinate:{page}", args=[clinician.pk]),
        remove=lambda pk: reverse(f"coordinate:{remove}", args=[clinician.pk, pk]),
        nav_template="staff/_clinician_links.html",
        title=f"{title} of {clinician.display_name}",
    )


@access.coordinator_required
def availability(request: HttpRequest, clinician_id: int) -> HttpResponse:
    clinician = _clinician(clinician_id)
    links = _links(clinician, "availability", "availability_delete", "Weekly availability")
    return availability_page(request, clinician, links=links)


@access.coordinator_required
@require_POST
def availability_delete(request: HttpRequest, clinician_id: int, rule_id: int) -> HttpResponse:
    clinician = _clinician(clinician_id)
    clinician_services.availability_rule_delete(clinician=clinician, rule_id=rule_id)
    messages.success(request, "Rule removed; open slots it made are withdrawn.")
    return redirect("coordinate:availability", clinician_id=clinician.pk)


@access.coordinator_required
def leave(request: HttpRequest, clinician_id: int) -> HttpResponse:
    clinician = _clinician(clinician_id)
    return leave_page(request, clinician, links=_links(clinician, "leave", "leave_delete", "Leave"))


@access.coordinator_required
@require_POST
def leave_delete(request: HttpRequest, clinician_id: int, time_off_id: int) -> HttpResponse:
    clinician = _clinician(clinician_id)
    clinician_services.time_off_delete(clinician=clinician, time_off_id=time_off_id)
    messages.success(request, "Leave removed; the slots it covered are offered again.")
    return redirect("coordinate:leave", clinician_id=clinician.pk)


@access.coordinator_required
def clinician_deactivate(request: HttpRequest, clinician_id: int) -> HttpResponse:
    """Confirm, then stop offering the clinician: unanswered proposals go back to the matcher
    and booked sessions are listed to move. An inactive clinician can be reactivated here."""
    clinician = _clinician(clinician_id)
    if not clinician.is_active:
        return _reactivate(request, clinician)
    form = DeactivateForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        result = clinician_services.clinician_deactivate(
            clinician_id=clinician.pk,
            actor=request.user,
            disable_sign_in=form.cleaned_data["disable_sign_in"],
        )
        messages.success(
            request,
            f"{clinician.display_name} is no longer offered. {result.rematched} unanswered "
            "proposal(s) went back to the matcher.",
        )
        return redirect("coordinate:clinician", clinician_id=clinician.pk)
    pending = Appointment.objects.filter(
        clinician=clinician, status__in=(Appointment.Status.PROPOSED, Appointment.Status.TENTATIVE)
    ).select_related("referral", "slot")
    context = {
        "clinician": clinician,
        "form": form,
        "pending": pending,
        "to_move": selectors.sessions_to_move(clinician),
    }
    return render(request, "staff/clinician_deactivate.html", context)


def _reactivate(request: HttpRequest, clinician: Clinician) -> HttpResponse:
    form = ReactivateForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        clinician_services.clinician_reactivate(
            clinician_id=clinician.pk, enable_sign_in=form.cleaned_data["enable_sign_in"]
        )
        messages.success(request, f"{clinician.display_name} is offered to the matcher again.")
        return redirect("coordinate:clinician", clinician_id=clinician.pk)
    context = {"clinician": clinician, "form": form}
    return render(request, "staff/clinician_reactivate.html", context)
