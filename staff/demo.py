"""Demo sign-in for seeded staff accounts: printed backup codes instead of an authenticator app.

Only in DEMO_MODE. Each code works once; a seeded account can still set up an app later.
"""

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, Group

from . import access
from .services.two_factor import backup_codes_replace


def demo_staff_prepare(*, user: AbstractBaseUser, group: str, count: int = 10) -> list[str]:
    """Put a demo account in a staff group and give it `count` backup codes to sign in with.

    For seed_demo: print the returned codes next to the username and password. Replaces any
    earlier codes, so running the seed again prints a fresh set. Refuses outside DEMO_MODE.
    """
    if not settings.DEMO_MODE:
        raise RuntimeError("demo sign-in codes are only issued in DEMO_MODE")
    if group not in access.STAFF_GROUPS:
        raise ValueError(f"unknown staff group {group!r}")
    user.groups.add(Group.objects.get(name=group))
    return backup_codes_replace(user=user, count=count)
