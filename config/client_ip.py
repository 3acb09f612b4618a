"""The client's real address behind our own reverse proxies (used by the sign-in lock-out and
the referral rate limit), and a log label that names no one.

Each trusted proxy appends the address it received the request from to X-Forwarded-For, so with
N proxies the client is the Nth entry from the right; anything further left was written by the
client and proves nothing. With no trusted proxy only the socket's address counts.
"""

import hashlib
import hmac
import ipaddress

from django.conf import settings
from django.http import HttpRequest


def _is_address(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def client_ip_address(request: HttpRequest) -> str | None:
    """The address lock-outs are counted against (axes' AXES_CLIENT_IP_CALLABLE)."""
    socket_address = request.META.get("REMOTE_ADDR")
    proxy_count = settings.TRUSTED_PROXY_COUNT
    if proxy_count <= 0:
        return socket_address
    forwarded = [
        part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part
    ]
    if not forwarded:
        return socket_address
    # Fewer entries than proxies means the request skipped the outer ones; the leftmost entry is
    # then the address our first proxy actually saw.
    candidate = forwarded[-min(proxy_count, len(forwarded))]
    return candidate if _is_address(candidate) else socket_address


def client_log_label(username, ip_address, user_agent, path_info, request) -> str:
    """What axes writes to the log about a sign-in: a keyed digest instead of name and address,
    enough to see that failures repeat without putting either in the log."""
    digest = hmac.new(
        settings.SECRET_KEY.encode(), f"{username}|{ip_address}".encode(), hashlib.sha256
    ).hexdigest()[:12]
    return f"client {digest} path {path_info}"
