"""A case: its status, timeline and sensitive fields (each look recorded), and every action a
coordinator takes on it. Actions are POST only and each calls one service."""

import datetime as dt

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import dateformat, timezone
from django.views.decorators.http import require_POST

from referrals.models import Referral
from scheduling.models import Appointment, Clinician, Slot
from scheduling.session_selectors import move_options

from .. import access, selectors
from ..forms.cases import (
    AcknowledgeForm,
    AssignForm,
    CancelForm,
    ClinicianChoiceForm,
    CloseForm,
    ConfirmForm,
    LimitForm,
    NoteForm,
    RescheduleForm,
)
from ..models import CloseOutcome
from ..services import cases as case_services
from ..services.assignment import assignment_checker
from ..services.view_log import Look, view_log_record
from ..sign_in import safe_next
from .links import session_links

ASSIGNABLE_SLOTS_SHOWN = 80


def _case(request: HttpRequest, reference: str) -> Referral:
    referral = selectors.case_referral(reference).first()
    if referral is None:
        raise Http404("No case with that reference.")
    if not access.can_view_referral(request.user, referral):
        raise PermissionDenied
    return referral


def _render_case(
    request: HttpRequest,
    referral: Referral,
    *,
    revealed: bool = False,
    forms: dict | None = None,
    status: int = 200,
) -> HttpResponse:
    """The case page. Showing it is a look at the person's details, so it is recorded."""
    view_log_record(
        user=request.user,
        obj=referral,
        look=Look.REVEALED_TRIAGE if revealed else Look.VIEWED_CASE,
    )
    detail = selectors.case_detail(referral)
    session_links(detail.appointments, reference=referral.reference)
    context = {
        "case": detail,
        "referral": referral,
        "revealed": revealed,
        "session_rows": [
            (a, selectors.explanation_lines(a.match_explanation), a in detail.live_appointments)
            for a in detail.appointments
        ],
        "acknowledge_form": AcknowledgeForm(),
        "note_form": NoteForm(),
        "limit_form": LimitForm(
            initial={"new_limit": (referral.episode.session_limit + 1) if referral.episode else 1}
        ),
        "close_form": CloseForm(),
        "cancel_form": CancelForm(),
        **(forms or {}),
        "failed_form": next(iter(forms.values())) if forms else None,
    }
    return render(request, "staff/case_detail.html", context, status=status)


@access.coordinator_required
def case_detail(request: HttpRequest, reference: str) -> HttpResponse:
    return _render_case(request, _case(request, reference))


@access.coordinator_required
@require_POST
def case_reveal(request: HttpRequest, reference: str) -> HttpResponse:
    """Show the triage answers and free text, on an explicit request that is recorded."""
    return _render_case(request, _case(request, reference), revealed=True)


def _act(request, referral, form, form_key, action, success_message):
    """Run `action(form.cleaned_data)` for a valid form and go back to the case; otherwise show
    the case again with the form, its errors and everything typed."""
    if form.is_valid():
        try:
            action(form.cleaned_data)
        except case_services.CaseActionError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, success_message)
            return redirect(
                safe_next(request, reverse("coordinate:case", args=[referral.reference]))
            )
    return _render_case(request, referral, forms={form_key: form}, status=400)


@access.coordinator_required
@require_POST
def case_acknowledge(request: HttpRequest, reference: str) -> HttpResponse:
    referral = _case(request, reference)
    return _act(
        request,
        referral,
        AcknowledgeForm(request.POST),
        "acknowledge_form",
        lambda data: case_services.referral_urgent_acknowledge(
            referral_id=referral.pk, actor=request.user, note=data["note"]
        ),
        "Urgent case acknowledged in your name.",
    )


@access.coordinator_required
@require_POST
def case_note(request: HttpRequest, reference: str) -> HttpResponse:
    referral = _case(request, reference)
    return _act(
        request,
        referral,
        NoteForm(request.POST),
        "note_form",
        lambda data: case_services.case_note_add(
            referral_id=referral.pk, actor=request.user, text=data["text"]
        ),
        "Note added.",
    )


@access.coordinator_required
@require_POST
def case_limit_override(request: HttpRequest, reference: str) -> HttpResponse:
    referral = _case(request, reference)
    return _act(
        request,
        referral,
        LimitForm(request.POST),
        "limit_form",
        lambda data: case_services.episode_limit_override(
            referral_id=referral.pk,
            actor=request.user,
            new_limit=data["new_limit"],
            reason=data["reason"],
        ),
        "Session limit changed.",
    )


@access.coordinator_required
@require_POST
def case_close(request: HttpRequest, reference: str) -> HttpResponse:
    referral = _case(request, reference)
    return _act(
        request,
        referral,
        CloseForm(request.POST),
        "close_form",
        lambda data: case_services.referral_close(
            referral_id=referral.pk,
            actor=request.user,
            outcome=data["outcome"],
            outcome_label=CloseOutcome(data["outcome"]).label,
            note=data["note"],
        ),
        "Case closed.",
    )


@access.coordinator_required
@require_POST
def case_match(request: HttpRequest, reference: str) -> HttpResponse:
    referral = _case(request, reference)
    return _act(
        request,
        referral,
        ConfirmForm({}),
        "action_form",
        lambda _data: case_services.referral_match_request(
            referral_id=referral.pk, actor=request.user
        ),
        "Sent to the matcher: a proposal will follow if a clinician fits.",
    )


@access.coordinator_required
@require_POST
def appointment_cancel(request: HttpRequest, reference: str, appointment_id: int) -> HttpResponse:
    referral = _case(request, reference)
    return _act(
        request,
        referral,
        CancelForm(request.POST),
        "cancel_form",
        lambda data: case_services.appointment_cancel_by_coordinator(
            referral_id=referral.pk,
            appointment_id=appointment_id,
            actor=request.user,
            reason=data["reason"],
        ),
        "Session cancelled; the clinician will be told.",
    )


@access.coordinator_required
@require_POST
def appointment_resend(request: HttpRequest, reference: str, appointment_id: int) -> HttpResponse:
    referral = _case(request, reference)
    return _act(
        request,
        referral,
        ConfirmForm({}),
        "action_form",
        lambda _data: case_services.appointment_invitation_resend(
            referral_id=referral.pk, appointment_id=appointment_id, actor=request.user
        ),
        f"Invitation for {referral.reference} sent again.",
    )


@access.coordinator_required
@require_POST
def appointment_rematch(request: HttpRequest, reference: str, appointment_id: int) -> HttpResponse:
    referral = _case(request, reference)
    return _act(
        request,
        referral,
        ConfirmForm({}),
        "action_form",
        lambda _data: case_services.appointment_rematch(
            referral_id=referral.pk, appointment_id=appointment_id, actor=request.user
        ),
        f"{referral.reference} sent back to the matcher.",
    )


def _assignable_slots(clinician: Clinician, replacing_ids: frozenset[int]):
    """The clinician's offered future slots that nobody else holds, soonest first."""
    now = timezone.now()
    held = Appointment.objects.filter(status__in=Appointment.LIVE_STATUSES).exclude(
        pk__in=replacing_ids
    )
    return (
        Slot.objects.filter(
            clinician=clinician,
            is_offered=True,
            starts_at__gt=now,
            starts_at__lt=now + dt.timedelta(weeks=settings.SLOT_HORIZON_WEEKS),
        )
        .exclude(pk__in=held.values("slot_id"))
        .order_by("starts_at")
    )


@access.coordinator_required
def case_assign(request: HttpRequest, reference: str) -> HttpResponse:
    """Choose a clinician, then one of their open times; each time shows the rules it breaks.
    POST proposes the chosen time with the coordinator's written reason."""
    referral = _case(request, reference)
    view_log_record(user=request.user, obj=referral, look=Look.VIEWED_FOR_ASSIGNMENT)
    data = request.POST if request.method == "POST" else request.GET
    chooser = ClinicianChoiceForm(data if "clinician" in data else None)
    context = {"referral": referral, "chooser": chooser, "rows": None, "form": None}
    if not chooser.is_bound or not chooser.is_valid():
        return render(request, "staff/case_assign.html", context)
    clinician = chooser.cleaned_data["clinician"]
    live_ids = frozenset(
        referral.appointments.filter(status__in=Appointment.LIVE_STATUSES).values_list(
            "pk", flat=True
        )
    )
    slots = _assignable_slots(clinician, live_ids)
    form = AssignForm(request.POST if request.method == "POST" else None, slots=slots)
    if request.method == "POST" and form.is_valid():
        response = _assign(request, referral, form)
        if response is not None:
            return response
    checker = assignment_checker(referral=referral, clinician=clinician, replacing_ids=live_ids)
    shown = list(slots[:ASSIGNABLE_SLOTS_SHOWN])
    context |= {
        "clinician": clinician,
        "form": form,
        "rows": [(slot, checker.breaches(slot)) for slot in shown],
        "replacing": referral.appointments.filter(pk__in=live_ids).select_related("slot"),
    }
    status = 400 if form.is_bound else 200
    return render(request, "staff/case_assign.html", context, status=status)


def _assign(request: HttpRequest, referral: Referral, form: AssignForm) -> HttpResponse | None:
    slot = form.cleaned_data["slot"]
    seen = frozenset(
        code for code in request.POST.get(f"breaches_{slot.pk}", "").split(",") if code
    )
    try:
        case_services.appointment_assign_manually(
            referral_id=referral.pk,
            slot_id=slot.pk,
            actor=request.user,
            reason=form.cleaned_data["reason"],
            breaches_seen=seen,
        )
    except case_services.CaseActionError as error:
        form.add_error(None, str(error))
        return None
    messages.success(
        request, f"Session offered to {slot.clinician.display_name}; the invitation is on its way."
    )
    return redirect("coordinate:case", reference=referral.reference)


def _slot_choice(slot: Slot, *, with_clinician: bool) -> tuple[int, str]:
    when = dateformat.format(timezone.localtime(slot.starts_at), "D j M Y, H:i")
    return slot.pk, f"{when} with {slot.clinician.display_name}" if with_clinician else when


@access.coordinator_required
def appointment_reschedule(
    request: HttpRequest, reference: str, appointment_id: int
) -> HttpResponse:
    """Move a live session: the same clinician's open times first (it stays one calendar
    event), then other clinicians' who may see this case (a new proposal to them)."""
    referral = _case(request, reference)
    appointment = (
        referral.appointments.select_related("slot", "clinician")
        .filter(pk=appointment_id, status__in=Appointment.LIVE_STATUSES)
        .first()
    )
    if appointment is None:
        raise Http404("No open session with that id on this case.")
    appointment.referral = referral
    options = move_options(appointment, now=timezone.now())
    same = [_slot_choice(s, with_clinician=False) for s in options.same_clinician]
    others = [_slot_choice(s, with_clinician=True) for s in options.other_clinicians]
    form = RescheduleForm(
        request.POST if request.method == "POST" else None, slot_choices=same + others
    )
    if request.method == "POST" and form.is_valid():
        try:
            case_services.appointment_reschedule_by_coordinator(
                referral_id=referral.pk,
                appointment_id=appointment.pk,
                slot_id=form.cleaned_data["slot"],
                actor=request.user,
                reason=form.cleaned_data["reason"],
            )
        except case_services.CaseActionError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, "Session moved; the clinician and the person are told.")
            return redirect("coordinate:case", reference=referral.reference)
    context = {
        "referral": referral,
        "appointment": appointment,
        "form": form,
        "same": same,
        "others": others,
        "chosen": str(form["slot"].value() or ""),
    }
    status = 400 if form.is_bound and form.errors else 200
    return render(request, "staff/case_reschedule.html", context, status=status)
