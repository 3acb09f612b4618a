"""Per-client limits, counted in the cache: finished referrals per IP, and "send me my link
again" requests per IP and per email address.

Fixed windows keyed by a keyed hash of the IP or address (so the cache holds no addresses). If
the cache is unavailable the request goes through: losing a person's request is worse than
letting a burst of spam past for the length of an outage.
"""

import hashlib
import hmac
import logging
import time

from django.conf import settings
from django.http import HttpRequest

from config.cache import window_count
from config.client_ip import client_ip_address

logger = logging.getLogger(__name__)


def submission_allowed(request: HttpRequest) -> bool:
    """Count one submission from the request's client; False once over the window's limit."""
    client = _key(client_ip_address(request) or "")
    return _allowed(
        f"referral-submissions:{client}",
        window=settings.REFERRAL_SUBMISSION_WINDOW_SECONDS,
        limit=settings.REFERRAL_SUBMISSIONS_PER_IP,
    )


def link_request_allowed(request: HttpRequest, *, email: str) -> bool:
    """Count one "send me my link again" request from this client and for this address; False
    once either is over its limit. Counted whether or not the address is known."""
    window = settings.REFERRER_LINK_REQUEST_WINDOW_SECONDS
    client = _key(client_ip_address(request) or "")
    by_client = _allowed(
        f"link-requests:ip:{client}", window=window, limit=settings.REFERRER_LINK_REQUESTS_PER_IP
    )
    by_address = _allowed(
        f"link-requests:email:{_key(email.strip().lower())}",
        window=window,
        limit=settings.REFERRER_LINK_REQUESTS_PER_ADDRESS,
    )
    return by_client and by_address


def _allowed(key: str, *, window: int, limit: int) -> bool:
    """Count one event under `key` in the current fixed window; False once past `limit`."""
    key = f"{key}:{int(time.time() // window)}"
    try:
        count = window_count(key, timeout=window)
    except Exception:  # any cache failure: see the module docstring
        logger.warning("rate limit unavailable; allowing the request")
        return True
    return count <= limit


def _key(value: str) -> str:
    """A keyed hash, so the cache holds no addresses (network or email)."""
    digest = hmac.new(settings.SECRET_KEY.encode(), value.encode(), hashlib.sha256)
    return digest.hexdigest()[:32]
