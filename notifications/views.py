"""The calendar's web doors: inbound mail, signed Accept/Decline pages, clinicians' feeds."""

from __future__ import annotations

import base64
import binascii
import hmac

from django.conf import settings
from django.core import signing
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, UnreadablePostError
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from scheduling.models import Appointment, Clinician
from scheduling.services import Response

from . import emails, inbound, services
from .models import InboundMessage


class _TooLarge(Exception):
    pass


@csrf_exempt
@require_POST
def inbound_mail(request: HttpRequest) -> JsonResponse:
    """A raw MIME message as inbound-mail services post it: the request body itself, or a form
    field `email` (raw MIME) / `body-mime`. Authorised by INBOUND_MAIL_SECRET as a bearer
    token, the Basic-auth password or an X-Inbound-Secret header. Answers 200 once the message
    is kept (the worker applies it moments later), as such services expect, or when it was
    kept before ({"stored": false}: they may deliver a message more than once)."""
    if not settings.INBOUND_MAIL_SECRET:
        raise Http404("inbound mail is not enabled")
    if not _is_authorised(request, settings.INBOUND_MAIL_SECRET):
        return JsonResponse({"error": "not authorised"}, status=403)
    try:
        raw = _raw_message(request, settings.INBOUND_MAIL_MAX_BYTES)
    except (_TooLarge, RequestDataTooBig):
        return JsonResponse({"error": "message too large"}, status=413)
    except (MultiPartParserError, UnreadablePostError):
        return JsonResponse({"error": "the form could not be read"}, status=400)
    if not raw.strip():
        return JsonResponse({"error": "no message in the request"}, status=400)
    kept = inbound.message_accept(raw, source=InboundMessage.Source.HTTP)
    return JsonResponse(kept.summary())


def _is_authorised(request: HttpRequest, secret: str) -> bool:
    offered = request.headers.get("X-Inbound-Secret", "")
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        offered = value.strip()
    elif scheme.lower() == "basic":
        try:
            offered = base64.b64decode(value.strip()).decode().partition(":")[2]
        except (binascii.Error, UnicodeDecodeError):
            offered = ""
    return hmac.compare_digest(offered.encode(), secret.encode())


def _raw_message(request: HttpRequest, limit: int) -> bytes:
    try:
        declared = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        raise _TooLarge
    if request.content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
        upload = request.FILES.get("email") or request.FILES.get("body-mime")
        if upload is not None:
            raw = upload.read(limit + 1)
        else:
            raw = (request.POST.get("email") or request.POST.get("body-mime") or "").encode()
    else:
        raw = request.read(limit + 1)
    if len(raw) > limit:
        raise _TooLarge
    return raw


@never_cache
@require_http_methods(["GET", "POST"])
def respond(request: HttpRequest, token: str) -> HttpResponse:
    """A signed Accept/Decline link. GET only shows what would happen (mail scanners open every
    link); the POST from that page answers, through the same service calendar replies use."""
    try:
        signed = services.response_token_read(token)
        appointment = Appointment.objects.select_related(
            "slot", "clinician", "referral__program"
        ).get(pk=signed["a"])
    except (signing.BadSignature, KeyError, TypeError, Appointment.DoesNotExist):
        return render(request, "notifications/respond_invalid.html", status=400)
    answer = signed.get("r")
    if answer not in (Response.ACCEPTED, Response.DECLINED):
        return render(request, "notifications/respond_invalid.html", status=400)
    is_current = signed.get("s") == appointment.ical_sequence
    if request.method == "POST" and is_current:
        _answer(appointment, answer)
        return redirect(request.path)
    context = {
        "answer": answer,
        "is_current": is_current,
        "appointment": appointment,
        "title": emails.session_title(appointment),
        "when": emails.format_when(appointment.slot.starts_at, appointment.clinician.time_zone),
        "is_open": _takes(appointment, answer),
    }
    return render(request, "notifications/respond.html", context)


def _takes(appointment: Appointment, answer: str) -> bool:
    """Whether the session can still take this answer (an accepted one can still be declined)."""
    S = Appointment.Status
    return appointment.status in (S.PROPOSED, S.TENTATIVE) or (
        appointment.status == S.ACCEPTED and answer == Response.DECLINED
    )


def _answer(appointment: Appointment, answer: str) -> None:
    services.appointment_answer(
        appointment_id=appointment.pk, response=answer, actor_label="clinician (signed link)"
    )


@require_GET
def feed(request: HttpRequest, token: str) -> HttpResponse:
    """A clinician's secret, revocable calendar feed (METHOD:PUBLISH)."""
    clinician = Clinician.objects.filter(feed_token=token, is_active=True).first()
    if clinician is None or not hmac.compare_digest(clinician.feed_token, token):
        raise Http404("no such feed")
    response = HttpResponse(
        services.feed_render(clinician), content_type="text/calendar; charset=utf-8"
    )
    response["Content-Disposition"] = 'inline; filename="sessions.ics"'
    response["Cache-Control"] = "private, max-age=300"
    response["X-Robots-Tag"] = "noindex"
    return response
