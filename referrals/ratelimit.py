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

from config.client_ip import client_ip_address

logger = logging.getLogger(__name__)


def submission_allowed(request: HttpRequest) -> bool:
    """Count one submission from the request's client; False once over the window's limit."""
    window = settings.REFERRAL_SUBMISSION_WINDOW_SECONDS
    client = _ip_key(client_ip_address(request) or "")
    key = f"referral-submissions:{client}:{int(time.time() // window)}"
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
