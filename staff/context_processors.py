"""What the staff navigation needs to know, worked out only when a template asks."""

from django.utils.functional import SimpleLazyObject

from . import access


def staff_nav(request):
    def roles() -> dict:
        user = request.user
        return {
            "is_verified": access.is_verified(user),
            "is_coordinator": access.is_coordinator(user),
            "is_clinician": access.is_clinician(user),
        }

    return {"staff_nav": SimpleLazyObject(roles)}
