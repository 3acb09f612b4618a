"""Error pages rendered without the database, which may be the thing that failed."""

import sys

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.template import loader

from referrals.context_processors import CRISIS_LINES


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: a 503 "try again" page when the database could not be reached or dropped
    the connection (a restart, a failover), the plain 500 page for anything else.

    Rendered without the request's context processors: they read the session and the user,
    which live in the database.
    """
    error = sys.exc_info()[1]
    context = {"crisis_lines": CRISIS_LINES}
    if isinstance(error, OperationalError | InterfaceError):
        page = loader.get_template("503.html").render(context)
        response = HttpResponse(page, status=503)
        response["Retry-After"] = str(settings.SERVICE_UNAVAILABLE_RETRY_AFTER_SECONDS)
        return response
    return HttpResponse(loader.get_template("500.html").render(context), status=500)
