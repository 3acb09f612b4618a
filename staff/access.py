"""Who may reach which staff page and see which object. Every staff view goes through here.

A page decorator checks three things in order: signed in (else the sign-in page), second factor
verified in this session (else the code page), and the right group (else 403). Object checks
then decide whether this person may see this case or this clinician; a view that fetches an
object it is not allowed to show raises PermissionDenied, which the decorator turns into the
same 403 page.

Groups: coordinators (and admins, who can do everything a coordinator can) run the service;
clinicians see their own week and sessions and never a coordinator page.
"""

from collections.abc import Callable
from functools import wraps
from urllib.parse import urlencode

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse

from referrals.models import Referral
from scheduling.models import Appointment, Clinician

COORDINATOR = "coordinator"
CLINICIAN = "clinician"
ADMIN = "admin"
STAFF_GROUPS = (COORDINATOR, CLINICIAN, ADMIN)

User = AbstractBaseUser | AnonymousUser
View = Callable[..., HttpResponse]


def group_names(user: User) -> frozenset[str]:
    """The staff groups the user belongs to, read once per request."""
    if not user.is_authenticated:
        return frozenset()
    cached = getattr(user, "_staff_group_names", None)
    if cached is None:
        cached = frozenset(user.groups.filter(name__in=STAFF_GROUPS).values_list("name", flat=True))
        user._staff_group_names = cached
    return cached


def is_verified(user: User) -> bool:
    return bool(user.is_authenticated and user.is_active and user.is_verified())


def is_coordinator(user: User) -> bool:
    return is_verified(user) and bool(group_names(user) & {COORDINATOR, ADMIN})


def is_clinician(user: User) -> bool:
    return is_verified(user) and CLINICIAN in group_names(user)


def is_staff_member(user: User) -> bool:
    return is_verified(user) and bool(group_names(user))


def redirect_to_sign_in(request: HttpRequest, target: str | None = None) -> HttpResponseRedirect:
    target = target or request.get_full_path()
    return HttpResponseRedirect(f"{reverse('staff:sign_in')}?{urlencode({'next': target})}")


def redirect_to_second_factor(request: HttpRequest) -> HttpResponseRedirect:
    query = urlencode({"next": request.get_full_path()})
    return HttpResponseRedirect(f"{reverse('staff:verify')}?{query}")


def forbidden(request: HttpRequest) -> HttpResponse:
    response = TemplateResponse(request, "staff/forbidden.html", status=403)
    return response.render()


def _page_guard(may_enter: Callable[[User], bool]) -> Callable[[View], View]:
    def decorator(view: View) -> View:
        @wraps(view)
        def guarded(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            user = request.user
            if not user.is_authenticated:
                return redirect_to_sign_in(request)
            if not user.is_verified():
                return redirect_to_second_factor(request)
            if not may_enter(user):
                return forbidden(request)
            try:
                return view(request, *args, **kwargs)
            except PermissionDenied:
                return forbidden(request)

        return guarded

    return decorator


coordinator_required = _page_guard(is_coordinator)
coordinator_required.__doc__ = "A page for coordinators and admins, with a verified second factor."
clinician_required = _page_guard(is_clinician)
clinician_required.__doc__ = "A page for clinicians, with a verified second factor."
staff_required = _page_guard(is_staff_member)
staff_required.__doc__ = "A page for anyone in a staff group, with a verified second factor."
verified_required = _page_guard(is_verified)
verified_required.__doc__ = "A page for any signed-in account with a verified second factor."


def can_view_referral(user: User, referral: Referral) -> bool:
    """Coordinators see every case; a clinician only a case they have a session for."""
    if is_coordinator(user):
        return True
    if is_clinician(user):
        return Appointment.objects.filter(referral=referral, clinician__user=user).exists()
    return False


def can_view_clinician(user: User, clinician: Clinician) -> bool:
    """Coordinators see every clinician's week; a clinician only their own."""
    if is_coordinator(user):
        return True
    return is_clinician(user) and clinician.user_id == user.pk


def clinician_for(user: User, clinician_id: int) -> Clinician:
    """The clinician if the user may see them; 404 if none, PermissionDenied if not allowed."""
    clinician = get_object_or_404(Clinician, pk=clinician_id)
    if not can_view_clinician(user, clinician):
        raise PermissionDenied
    return clinician
