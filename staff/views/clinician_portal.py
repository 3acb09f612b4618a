"""The clinician's own portal at /clinician/: their sessions (theirs only), answering proposals,
marking sessions, their weekly availability, leave and capacity, and their calendar feed.

Every view is behind clinician_required (signed in with a second factor, in the clinician
group) and then works on the signed-in clinician's own objects only: another clinician's session
is a 404, so nothing about it shows. Opening a session's contact details is recorded in the
audit log. Changes are POSTs, each calling one service whose messages go out with it.
"""

import datetime as dt

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from notifications.emails import format_when
from notifications.services import appointment_answer, feed_token_rotate, feed_urls, notices_send
from privacy.models import AuditEntry
from privacy.services import audit_record
from referrals.models import Referral
from scheduling.models import Appointment, Clinician
from scheduling.services import By, SessionActionError, appointment_complete, appointment_no_show

from .. import access
from ..clinician_selectors import clinician_session, clinician_sessions, weekly_load
from ..forms.clinicians import CapacityForm, RespondForm
from ..services import clinicians as clinician_services
from ..services.view_log import Look, view_log_record
from .availability import PageLinks, availability_page, leave_page

A = Appointment.Status
NAV = "staff/clinician/_nav.html"


def _me(request: HttpRequest) -> Clinician:
    """The signed-in clinician's profile; an account in the group without one is refused."""
    clinician = Clinician.objects.filter(user=request.user).first()
    if clinician is None:
        raise PermissionDenied
    return clinician


def _mine(clinician: Clinician, appointment_id: int) -> Appointment:
    appointment = clinician_session(clinician, appointment_id)
    if appointment is None:
        raise Http404("No such session among yours.")
    return appointment


def _session_page(appointment_id: int) -> HttpResponse:
    return redirect("clinician:session", appointment_id=appointment_id)


# --- Sessions -------------------------------------------------------------------------------


@access.clinician_required
def sessions(request: HttpRequest) -> HttpResponse:
    """Proposals to answer, booked sessions to come, started ones to mark, and past ones."""
    clinician = _me(request)
    context = {
        "clinician": clinician,
        "sessions": clinician_sessions(clinician, now=timezone.now()),
    }
    return render(request, "staff/clinician/sessions.html", context)


def contact_detail(referral: Referral) -> str:
    """How to reach the person by the method they chose: the one detail that method needs."""
    if referral.contact_method == Referral.ContactMethod.EMAIL:
        return referral.email
    voicemail = "voicemail is fine" if referral.is_voicemail_ok else "please leave no voicemail"
    return f"{referral.phone} ({voicemail})" if referral.phone else "No number given"


@access.clinician_required
def session_detail(request: HttpRequest, appointment_id: int) -> HttpResponse:
    """One session: when, with whom, and, while it is offered or booked, the minimum needed to
    make contact (each look recorded). Triage only where the program shows it to clinicians."""
    clinician = _me(request)
    appointment = _mine(clinician, appointment_id)
    referral = appointment.referral
    is_live = appointment.status in Appointment.LIVE_STATUSES
    shows_triage = is_live and referral.program.shows_triage_to_clinician
    if is_live:
        look = Look.CLINICIAN_VIEWED_TRIAGE if shows_triage else Look.CLINICIAN_VIEWED_CONTACT
        view_log_record(user=request.user, obj=referral, look=look)
    now = timezone.now()
    has_started = appointment.slot.starts_at <= now
    context = {
        "clinician": clinician,
        "appointment": appointment,
        "referral": referral,
        "when": format_when(appointment.slot.starts_at, clinician.time_zone),
        "limit": referral.episode.session_limit if referral.episode else None,
        "is_live": is_live,
        "contact": contact_detail(referral) if is_live else "",
        "triage": getattr(referral, "triage", None) if shows_triage else None,
        "can_answer": appointment.status in (A.PROPOSED, A.TENTATIVE) and not has_started,
        "can_give_up": appointment.status == A.ACCEPTED and not has_started,
        "can_mark": appointment.status == A.ACCEPTED and has_started,
    }
    return render(request, "staff/clinician/session_detail.html", context)


ANSWERED = {
    A.ACCEPTED: "Accepted. The person has been sent the time.",
    A.TENTATIVE: "Marked as tentative. Accept or decline when you know.",
    A.DECLINED: "Declined. We will look for another clinician.",
    A.CANCELLED: "You have given up this session. The person is told and we will find "
    "another time.",
}


@access.clinician_required
@require_POST
def session_respond(request: HttpRequest, appointment_id: int) -> HttpResponse:
    """Accept, decline or mark tentative, through the same door calendar replies use; the
    person is told as after a calendar reply."""
    appointment = _mine(_me(request), appointment_id)
    form = RespondForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose accept, tentative or decline.")
        return _session_page(appointment.pk)
    result = appointment_answer(
        appointment_id=appointment.pk,
        response=form.cleaned_data["response"],
        actor=request.user,
        actor_label="clinician (portal)",
    )
    if result.is_changed:
        messages.success(request, ANSWERED[result.status])
    else:
        messages.info(request, f"Nothing changed: the {result.detail}.")
    return _session_page(appointment.pk)


def _completed_message(outcome) -> str:
    if outcome.is_last_session:
        return "Session marked completed. That was the last session, so the case is closed."
    if outcome.next_session and outcome.next_session.appointment_id:
        return (
            "Session marked completed. The next session has been proposed; if it is with you, "
            "it is waiting for your answer."
        )
    return "Session marked completed. We are looking for a time for the next session."


@access.clinician_required
@require_POST
def session_complete(request: HttpRequest, appointment_id: int) -> HttpResponse:
    """Mark a started session completed; a session that is not the episode's last proposes the
    next one (with the same clinician when they have a time in the person's windows)."""
    appointment = _mine(_me(request), appointment_id)
    try:
        with transaction.atomic():
            outcome = appointment_complete(
                appointment_id=appointment.pk, by=By.CLINICIAN, actor=request.user
            )
            notices_send(outcome.notices)
    except SessionActionError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _completed_message(outcome))
    return _session_page(appointment.pk)


@access.clinician_required
@require_POST
def session_no_show(request: HttpRequest, appointment_id: int) -> HttpResponse:
    appointment = _mine(_me(request), appointment_id)
    try:
        with transaction.atomic():
            notices_send(
                appointment_no_show(
                    appointment_id=appointment.pk, by=By.CLINICIAN, actor=request.user
                )
            )
    except SessionActionError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, "Marked as not attended. A coordinator will check on them.")
    return _session_page(appointment.pk)


# --- Availability, leave, capacity ----------------------------------------------------------


def _links(page: str, remove: str, title: str) -> PageLinks:
    return PageLinks(
        page=reverse(f"clinician:{page}"),
        remove=lambda pk: reverse(f"clinician:{remove}", args=[pk]),
        nav_template=NAV,
        title=title,
    )


@access.clinician_required
def availability(request: HttpRequest) -> HttpResponse:
    links = _links("availability", "availability_delete", "Your weekly availability")
    return availability_page(request, _me(request), links=links)


@access.clinician_required
@require_POST
def availability_delete(request: HttpRequest, rule_id: int) -> HttpResponse:
    clinician = _me(request)
    if not clinician.availability_rules.filter(pk=rule_id).exists():
        raise Http404("No such rule among yours.")
    clinician_services.availability_rule_delete(clinician=clinician, rule_id=rule_id)
    messages.success(request, "Rule removed; open slots it made are withdrawn.")
    return redirect("clinician:availability")


@access.clinician_required
def leave(request: HttpRequest) -> HttpResponse:
    return leave_page(request, _me(request), links=_links("leave", "leave_delete", "Your leave"))


@access.clinician_required
@require_POST
def leave_delete(request: HttpRequest, time_off_id: int) -> HttpResponse:
    clinician = _me(request)
    if not clinician.time_off.filter(pk=time_off_id).exists():
        raise Http404("No such leave among yours.")
    clinician_services.time_off_delete(clinician=clinician, time_off_id=time_off_id)
    messages.success(request, "Leave removed; the slots it covered are offered again.")
    return redirect("clinician:leave")


def _capacity_preview(clinician: Clinician, capacity: int) -> list[tuple[dt.date, int, int]]:
    """(Monday, sessions held, new sessions still possible) for each week of the horizon."""
    return [(monday, held, max(capacity - held, 0)) for monday, held in weekly_load(clinician)]


@access.clinician_required
def capacity(request: HttpRequest) -> HttpResponse:
    """The most sessions a week; a new number can be previewed against the weeks ahead."""
    clinician = _me(request)
    data = request.POST if request.method == "POST" else None
    form = CapacityForm(data, initial={"weekly_capacity": clinician.weekly_capacity})
    preview = None
    if request.method == "POST" and form.is_valid():
        new_capacity = form.cleaned_data["weekly_capacity"]
        if request.POST.get("action") == "save":
            clinician_services.clinician_capacity_set(
                clinician_id=clinician.pk, weekly_capacity=new_capacity
            )
            messages.success(request, f"Weekly capacity set to {new_capacity}.")
            return redirect("clinician:capacity")
        preview = _capacity_preview(clinician, new_capacity)
    context = {
        "clinician": clinician,
        "form": form,
        "preview": preview,
        "current": _capacity_preview(clinician, clinician.weekly_capacity),
    }
    return render(request, "staff/clinician/capacity.html", context, status=_status(form))


def _status(form) -> int:
    return 400 if form.is_bound and form.errors else 200


# --- Calendar feed --------------------------------------------------------------------------


@access.clinician_required
def feed(request: HttpRequest) -> HttpResponse:
    clinician = _me(request)
    context = {"clinician": clinician, "urls": feed_urls(clinician)}
    return render(request, "staff/clinician/feed.html", context)


@access.clinician_required
@require_POST
def feed_rotate(request: HttpRequest) -> HttpResponse:
    """Revoke the feed address and issue a new one; the old one stops working at once."""
    clinician = _me(request)
    with transaction.atomic():
        feed_token_rotate(clinician_id=clinician.pk)
        audit_record(
            user=request.user,
            action=AuditEntry.Action.CHANGE,
            obj=clinician,
            detail="replaced the calendar feed address",
        )
    messages.success(
        request, "Your old feed address no longer works. Subscribe with the new one below."
    )
    return redirect("clinician:feed")
