"""The referrer's own page, reached through the signed link in their emails (no account).

Every view opens the link first (referrals.links): an expired or altered link gets a plain page
offering a fresh one. A link opens its own referral and that referral's sessions, nothing else.
GET only shows, because mail scanners open every link; each change is a POST from the page
(CSRF protected) calling one scheduling service, whose notices go to notifications in the same
transaction: the clinician's calendar update and the referrer's own confirmation.
"""

import datetime as dt
from dataclasses import dataclass
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from notifications.emails import format_when
from notifications.services import notices_send, referrer_calendar, referrer_link_send
from scheduling.models import Appointment
from scheduling.services import (
    By,
    SessionActionError,
    appointment_cancel,
    appointment_reschedule,
    referral_next_session,
    referral_withdraw,
)
from scheduling.session_selectors import (
    CancellationTerms,
    cancellation_terms,
    move_options,
    next_session_refusal,
    session_count,
)

from .links import LinkExpired, LinkInvalid, referrer_token_read
from .models import Referral
from .ratelimit import link_request_allowed
from .referrer_forms import LinkRequestForm, MoveForm
from .selectors import open_referral_ids_for_email
from .services import referral_deletion_request

A = Appointment.Status
R = Referral.Status
FINISHED = (R.CLOSED, R.WITHDRAWN)


# --- Opening the link -----------------------------------------------------------------------


def _link_opened(view):
    """Give the view the referral the URL's token names, or refuse the link plainly."""

    @wraps(view)
    def opened(request: HttpRequest, token: str, *args, **kwargs) -> HttpResponse:
        try:
            referral_id = referrer_token_read(token)
        except LinkExpired:
            return _refused(request, is_expired=True)
        except LinkInvalid:
            return _refused(request, is_expired=False)
        referral = (
            Referral.objects.select_related("program", "episode").filter(pk=referral_id).first()
        )
        if referral is None:
            return _refused(request, is_expired=False)
        if not referral.email:
            # De-identified: the page keeps its promise to show nothing about the person.
            return render(request, "referrals/referrer_deleted.html", status=410)
        return view(request, referral, token, *args, **kwargs)

    return opened


def _refused(request: HttpRequest, *, is_expired: bool) -> HttpResponse:
    context = {
        "is_expired": is_expired,
        "form": LinkRequestForm(),
        "max_age_days": settings.REFERRER_LINK_MAX_AGE_DAYS,
    }
    return render(
        request, "referrals/referrer_link_refused.html", context, status=410 if is_expired else 404
    )


def _page(token: str) -> HttpResponse:
    return redirect("referrals:my_referral", token=token)


def _session(referral: Referral, appointment_id: int) -> Appointment | None:
    """One of this referral's sessions, or None: a link opens its own sessions only."""
    appointment = (
        referral.appointments.select_related("slot", "clinician").filter(pk=appointment_id).first()
    )
    if appointment is not None:
        appointment.referral = referral
    return appointment


def _changeable_session(request, referral, token, appointment_id):
    """(session, None) for a confirmed session still to come; otherwise (None, a response)."""
    appointment = _session(referral, appointment_id)
    if appointment is None:
        context = {"page_url": reverse("referrals:my_referral", args=[token])}
        return None, render(request, "referrals/referrer_session_missing.html", context, status=404)
    if appointment.status != A.ACCEPTED or appointment.slot.starts_at <= timezone.now():
        messages.info(request, "That session can no longer be changed.")
        return None, _page(token)
    return appointment, None


# --- The page -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionRow:
    appointment: Appointment
    when: str
    terms: CancellationTerms
    late_from: str


def _row(appointment: Appointment, now: dt.datetime) -> SessionRow:
    zone = appointment.referral.time_zone
    terms = cancellation_terms(appointment, now=now)
    return SessionRow(
        appointment=appointment,
        when=format_when(appointment.slot.starts_at, zone),
        terms=terms,
        late_from=format_when(terms.late_from_at, zone),
    )


def status_words(referral: Referral, *, has_confirmed: bool, can_book_next: bool) -> str:
    """Where the request stands, in plain words for the person."""
    if referral.deletion_requested_at:
        return (
            "You asked us to delete your details. A coordinator will confirm it soon; after "
            "that this page will show nothing about you."
        )
    if referral.status in (R.BOOKED, R.HELD) and can_book_next and not has_confirmed:
        return "You have no session booked at the moment. Book your next one when you are ready."
    words = {
        R.NEW: "We are looking for a time that fits the times you gave us. We will email you "
        "when a clinician has confirmed it.",
        R.UNMATCHED: "We have not found a time that fits yet. A coordinator will contact you "
        f"within {settings.UNMATCHED_FOLLOW_UP_BUSINESS_DAYS} working days.",
        R.PROPOSED: "We have offered a time to a clinician and are waiting for them to confirm "
        "it. We will email you when they do.",
        R.BOOKED: "Your session is booked.",
        R.HELD: "A coordinator is looking after your request and will be in touch.",
        R.DIVERTED: "A coordinator is looking after your request and will contact you.",
        R.CLOSED: f"Your request is closed. Thank you for using {referral.program.short_name}.",
        R.WITHDRAWN: "You withdrew this request. You are welcome to ask again at any time.",
    }
    return words[referral.status]


@require_GET
@_link_opened
def referrer_page(request: HttpRequest, referral: Referral, token: str) -> HttpResponse:
    """Status, confirmed sessions (each with its .ics) and what the person can do next."""
    now = timezone.now()
    appointments = list(
        referral.appointments.select_related("slot", "clinician").order_by("slot__starts_at", "pk")
    )
    for appointment in appointments:
        appointment.referral = referral
    upcoming = [
        _row(a, now) for a in appointments if a.status == A.ACCEPTED and a.slot.starts_at > now
    ]
    held = (A.COMPLETED, A.NO_SHOW, A.ACCEPTED)
    past = [_row(a, now) for a in appointments if a.status in held and a.slot.starts_at <= now]
    can_book_next = not next_session_refusal(referral)
    is_open = referral.status not in FINISHED
    context = {
        "referral": referral,
        "token": token,
        "status_words": status_words(
            referral, has_confirmed=bool(upcoming), can_book_next=can_book_next
        ),
        "upcoming": upcoming,
        "past": past,
        "count": session_count(referral),
        "can_book_next": can_book_next and is_open,
        "can_withdraw": is_open and not referral.deletion_requested_at,
        "can_ask_deletion": not referral.deletion_requested_at,
    }
    return render(request, "referrals/referrer_page.html", context)


@require_GET
@_link_opened
def referrer_session_ics(
    request: HttpRequest, referral: Referral, token: str, appointment_id: int
) -> HttpResponse:
    """The confirmed session as an .ics the person's calendar can add (or update)."""
    appointment = _session(referral, appointment_id)
    if appointment is None or appointment.status != A.ACCEPTED:
        context = {"page_url": reverse("referrals:my_referral", args=[token])}
        return render(request, "referrals/referrer_session_missing.html", context, status=404)
    response = HttpResponse(
        referrer_calendar(appointment), content_type="text/calendar; charset=utf-8"
    )
    response["Content-Disposition"] = 'attachment; filename="session.ics"'
    return response


# --- Changing a session ---------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@_link_opened
def referrer_cancel(
    request: HttpRequest, referral: Referral, token: str, appointment_id: int
) -> HttpResponse:
    """GET shows the program's notice rule as it applies now; POST cancels."""
    appointment, refusal = _changeable_session(request, referral, token, appointment_id)
    if refusal is not None:
        return refusal
    if request.method == "POST":
        try:
            with transaction.atomic():
                outcome = appointment_cancel(appointment_id=appointment.pk, by=By.REFERRER)
                notices_send(outcome.notices)
        except SessionActionError as error:
            messages.error(request, str(error))
            return _page(token)
        message = "Your session is cancelled and the clinician has been told."
        if outcome.uses_session:
            message += " As a late cancellation, it counts as one of your sessions."
        messages.success(request, message)
        return _page(token)
    context = {"referral": referral, "token": token, "row": _row(appointment, timezone.now())}
    return render(request, "referrals/referrer_cancel.html", context)


def _slot_label(slot, referral: Referral, *, with_clinician: bool) -> str:
    when = format_when(slot.starts_at, referral.time_zone)
    return f"{when}, with {slot.clinician.display_name}" if with_clinician else when


@require_http_methods(["GET", "POST"])
@_link_opened
def referrer_reschedule(
    request: HttpRequest, referral: Referral, token: str, appointment_id: int
) -> HttpResponse:
    """Other times with the same clinician first, then with others; POST moves the session."""
    appointment, refusal = _changeable_session(request, referral, token, appointment_id)
    if refusal is not None:
        return refusal
    now = timezone.now()
    row = _row(appointment, now)
    if row.terms.is_late:
        messages.info(
            request,
            f"Your session starts in less than {row.terms.notice_hours} hours, so it can no "
            "longer be moved. You can still cancel it.",
        )
        return _page(token)
    options = move_options(appointment, now=now)
    same = [(s.pk, _slot_label(s, referral, with_clinician=False)) for s in options.same_clinician]
    others = [
        (s.pk, _slot_label(s, referral, with_clinician=True)) for s in options.other_clinicians
    ]
    form = MoveForm(request.POST or None, slot_choices=same + others)
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                outcome = appointment_reschedule(
                    appointment_id=appointment.pk, slot_id=form.cleaned_data["slot"], by=By.REFERRER
                )
                notices_send(outcome.notices)
        except SessionActionError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, _moved_message(outcome.is_moved_in_place))
            return _page(token)
    context = {
        "referral": referral,
        "token": token,
        "row": row,
        "form": form,
        "same": same,
        "others": others,
        "chosen": str(form["slot"].value() or ""),
    }
    return render(request, "referrals/referrer_reschedule.html", context, status=_status(form))


def _moved_message(is_moved_in_place: bool) -> str:
    if is_moved_in_place:
        return "Your session has moved. We have emailed you the new time and told the clinician."
    return (
        "We have asked the clinician to confirm your new time and will email you when they do. "
        "Your old time is cancelled."
    )


def _status(form) -> int:
    return 400 if form.is_bound and form.errors else 200


# --- The request as a whole -----------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@_link_opened
def referrer_next_session(request: HttpRequest, referral: Referral, token: str) -> HttpResponse:
    """POST asks for the next session of the episode (a GET just shows the page)."""
    if request.method == "GET":
        return _page(token)
    try:
        with transaction.atomic():
            outcome = referral_next_session(referral_id=referral.pk, by=By.REFERRER)
            notices_send(outcome.notices)
    except SessionActionError as error:
        messages.error(request, str(error))
        return _page(token)
    if outcome.appointment_id is not None:
        messages.success(
            request,
            "We have offered your next session to a clinician. We will email you the time "
            "once they confirm it.",
        )
    else:
        messages.success(request, "We are looking for a time for your next session.")
    return _page(token)


@require_http_methods(["GET", "POST"])
@_link_opened
def referrer_withdraw(request: HttpRequest, referral: Referral, token: str) -> HttpResponse:
    """GET says what withdrawing does; POST withdraws (sessions to come are cancelled)."""
    if referral.status in FINISHED:
        return _page(token)
    if request.method == "POST":
        try:
            with transaction.atomic():
                outcome = referral_withdraw(referral_id=referral.pk, by=By.REFERRER)
                notices_send(outcome.notices)
        except SessionActionError as error:
            messages.error(request, str(error))
            return _page(token)
        messages.success(request, "Your request is withdrawn. We have emailed you to confirm.")
        return _page(token)
    context = {"referral": referral, "token": token, **_upcoming_terms(referral)}
    return render(request, "referrals/referrer_withdraw.html", context)


def _upcoming_terms(referral: Referral) -> dict:
    """The confirmed sessions still to come, with what cancelling each now would mean."""
    now = timezone.now()
    sessions = referral.appointments.select_related("slot", "clinician").filter(
        status=A.ACCEPTED, slot__starts_at__gt=now
    )
    rows = []
    for appointment in sessions:
        appointment.referral = referral
        rows.append(_row(appointment, now))
    return {"rows": rows, "uses_session": any(row.terms.uses_session for row in rows)}


@require_http_methods(["GET", "POST"])
@_link_opened
def referrer_deletion_request(request: HttpRequest, referral: Referral, token: str) -> HttpResponse:
    """GET says what deletion removes and keeps; POST withdraws an open request and asks a
    coordinator to delete the person's details."""
    if referral.deletion_requested_at:
        return _page(token)
    if request.method == "POST":
        with transaction.atomic():
            if referral.status not in FINISHED:
                outcome = referral_withdraw(
                    referral_id=referral.pk,
                    by=By.REFERRER,
                    reason="the person asked for their details to be deleted",
                )
                notices_send(outcome.notices)
            referral_deletion_request(referral_id=referral.pk)
        messages.success(
            request, "We have your request. A coordinator will delete your details soon."
        )
        return _page(token)
    context = {
        "referral": referral,
        "token": token,
        "is_open": referral.status not in FINISHED,
        **_upcoming_terms(referral),
    }
    return render(request, "referrals/referrer_delete.html", context)


# --- "Send me my link again" ----------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def referrer_link_request(request: HttpRequest) -> HttpResponse:
    """Ask only for an email address; email a fresh link for each of its open requests. The
    answer is the same whether or not the address is known (and so is the rate limit)."""
    form = LinkRequestForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        email = form.cleaned_data["email"]
        if not link_request_allowed(request, email=email):
            minutes = settings.REFERRER_LINK_REQUEST_WINDOW_SECONDS // 60
            context = {"form": form, "is_limited": True, "window_minutes": minutes}
            return render(request, "referrals/referrer_link_request.html", context, status=429)
        with transaction.atomic():
            for referral_id in open_referral_ids_for_email(email):
                referrer_link_send(referral_id=referral_id)
        return redirect("referrals:my_link_sent")
    context = {"form": form, "is_limited": False}
    return render(request, "referrals/referrer_link_request.html", context, status=_status(form))


@require_GET
def referrer_link_sent(request: HttpRequest) -> HttpResponse:
    context = {"max_age_days": settings.REFERRER_LINK_MAX_AGE_DAYS}
    return render(request, "referrals/referrer_link_sent.html", context)
