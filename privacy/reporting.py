"""Error reports (500 emails, the debug page with DEBUG off) without personal data.

Everything a person posts here is personal: every POST value is hidden, and so are query
strings (signed links carry tokens), local variables other than numbers and booleans, settings
whose names suggest credentials or addresses of services, and emails and phone numbers in the
exception message. The code, line numbers and exception type are what a developer needs.
"""

import re

from django.views.debug import ExceptionReporter, SafeExceptionReporterFilter

from .redaction import redact

_VISIBLE_TYPES = (bool, int, float, type(None))


class PrivateExceptionReporterFilter(SafeExceptionReporterFilter):
    hidden_settings = re.compile(
        "API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|URL|DSN|BROKER|REDIS|EMAIL|QUERY",
        flags=re.I,
    )

    def get_post_parameters(self, request):
        if request is None or not self.is_active(request):
            return super().get_post_parameters(request)
        cleansed = request.POST.copy()
        for name in cleansed:
            cleansed[name] = self.cleansed_substitute
        return cleansed

    def get_traceback_frame_variables(self, request, tb_frame):
        variables = super().get_traceback_frame_variables(request, tb_frame)
        if not self.is_active(request):
            return variables
        return [
            (name, value if isinstance(value, _VISIBLE_TYPES) else self.cleansed_substitute)
            for name, value in variables
        ]


class PrivateExceptionReporter(ExceptionReporter):
    """Also scrubs the exception message and hides the query string's values."""

    def get_traceback_data(self):
        data = super().get_traceback_data()
        if not self.filter.is_active(self.request):
            return data
        if "exception_value" in data:
            data["exception_value"] = redact(data["exception_value"])
        if "request_GET_items" in data:
            data["request_GET_items"] = [
                (name, self.filter.cleansed_substitute) for name, _ in data["request_GET_items"]
            ]
        if "request_insecure_uri" in data:
            data["request_insecure_uri"] = data["request_insecure_uri"].split("?", 1)[0]
        return data
