"""The referrer's signed link: how a person without an account reaches their own request.

The token names the referral (its id, signed with a purpose of its own and timestamped), never
the person, so the URL carries no personal data. It stops working REFERRER_LINK_MAX_AGE_DAYS
after it was issued; "send me my link again" issues a fresh one.
"""

import datetime as dt

from django.conf import settings
from django.core import signing
from django.urls import reverse

SALT = "referrals.referrer-page"


class LinkExpired(Exception):
    """A genuine link that is older than REFERRER_LINK_MAX_AGE_DAYS."""


class LinkInvalid(Exception):
    """Not a link we issued: mistyped, cut short or altered."""


def referrer_token(referral_id: int) -> str:
    return signing.dumps({"r": referral_id}, salt=SALT)


def referrer_token_read(token: str) -> int:
    """The referral id a token names; LinkExpired or LinkInvalid if it no longer opens."""
    max_age = dt.timedelta(days=settings.REFERRER_LINK_MAX_AGE_DAYS)
    try:
        signed = signing.loads(token, salt=SALT, max_age=max_age)
    except signing.SignatureExpired as error:
        raise LinkExpired from error
    except signing.BadSignature as error:
        raise LinkInvalid from error
    referral_id = signed.get("r") if isinstance(signed, dict) else None
    if not isinstance(referral_id, int):
        raise LinkInvalid
    return referral_id


def referrer_page_url(referral_id: int) -> str:
    """The absolute address of the referral's page, for emails."""
    path = reverse("referrals:my_referral", args=[referrer_token(referral_id)])
    return settings.SITE_URL.rstrip("/") + path
