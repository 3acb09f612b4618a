"""Who may use the coordinator-only parts of the referral journey (phone intake).

A stand-in until the staff app's two-factor-aware decorator replaces `coordinator_required`.
"""

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied

COORDINATOR_GROUP = "coordinator"


def is_coordinator(user) -> bool:
    return (
        user.is_authenticated
        and user.is_active
        and user.groups.filter(name=COORDINATOR_GROUP).exists()
    )


def coordinator_required(view):
    """Send a signed-out visitor to sign in; refuse anyone signed in who is not a coordinator."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not is_coordinator(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapped
