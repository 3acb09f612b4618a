"""People's requests, from their own page, to have their details deleted: the list a
coordinator works through, and the confirmation that de-identifies a case."""

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from referrals.models import Referral

from .. import access
from ..clinician_selectors import deletion_requests_pending
from ..services.cases import CaseActionError
from ..services.deletions import referral_deletion_confirm


@access.coordinator_required
def deletion_requests(request: HttpRequest) -> HttpResponse:
    """Requests not yet confirmed, oldest first: reference, program and when, nothing more."""
    context = {"pending": deletion_requests_pending()}
    return render(request, "staff/deletion_requests.html", context)


@access.coordinator_required
@require_POST
def deletion_confirm(request: HttpRequest, reference: str) -> HttpResponse:
    referral = Referral.objects.filter(reference=reference).first()
    if referral is None:
        raise Http404("No case with that reference.")
    try:
        referral_deletion_confirm(referral_id=referral.pk, actor=request.user)
    except CaseActionError as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request, f"{reference}: the person's details are deleted; statistics are kept."
        )
    return redirect("coordinate:deletion_requests")
