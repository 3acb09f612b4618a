"""A per-client-IP limit on finished referrals, counted in the cache.

Fixed windows keyed by a keyed hash of the IP (so the cache holds no addresses). If the cache is
unavailable the referral goes through: losing a person's request is worse than letting a burst
of spam past for the length of an outage.
"""

import hashlib
import hmac
import logging
import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

logger = logging.getLogger(__name__)


def client_ip(request: HttpRequest) -> str:
    """The client's address: REMOTE_ADDR, or the address the nearest trusted proxy saw.

    With TRUSTED_PROXY_COUNT = n, the n-th address from the right of X-Forwarded-For is the one
    our own outermost proxy appended; anything left of it was written by the client and is
    not trusted.
    """
    proxies = settings.TRUSTED_PROXY_COUNT
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [part for part in forwarded if part]
    if proxies > 0 and len(forwarded) >= proxies:
        return forwarded[-proxies][:64]
    return request.META.get("REMOTE_ADDR", "")[:64]


def submission_allowed(request: HttpRequest) -> bool:
    """Count one submission from the request's client; False once over the window's limit."""
    window = settings.REFERRAL_SUBMISSION_WINDOW_SECONDS
    key = f"referral-submissions:{_ip_key(client_ip(request))}:{int(time.time() // window)}"
    try:
        cache.add(key, 0, timeout=window)
        count = cache.incr(key)
    except ValueError:
        # The key expired between add and incr: this is the first submission of a new window.
        return True
    except Exception:  # any cache failure: see the module docstring
        logger.warning("submission rate limit unavailable; allowing the submission")
        return True
    return count <= settings.REFERRAL_SUBMISSIONS_PER_IP


def _ip_key(ip: str) -> str:
    digest = hmac.new(settings.SECRET_KEY.encode(), ip.encode(), hashlib.sha256)
    return digest.hexdigest()[:32]
