"""Response headers Django does not set itself."""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_cache_control


def _permissions_policy(features: dict[str, list[str]]) -> str:
    return ", ".join(f"{feature}=({' '.join(allowed)})" for feature, allowed in features.items())


class PrivacyHeadersMiddleware:
    """Adds Permissions-Policy, and `Cache-Control: no-store` to responses that set no caching.

    no-store because people use shared hospital computers: a page with someone's referral on
    it must not be kept by the browser or a proxy. Responses that choose their own caching
    (static files, calendar feeds) keep it.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.permissions_policy = _permissions_policy(settings.PERMISSIONS_POLICY)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Permissions-Policy", self.permissions_policy)
        if "Cache-Control" not in response.headers:
            patch_cache_control(response, no_store=True)
        return response
