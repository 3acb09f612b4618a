"""The site's URLs plus a stand-in for the wizard's phone-intake entry, for the dashboard test."""

from django.http import HttpResponse
from django.urls import include, path

from config.urls import urlpatterns as site_urlpatterns

intake = (
    [path("intake/", lambda request: HttpResponse("intake"), name="intake_start")],
    "referrals",
)

urlpatterns = [path("", include(intake)), *site_urlpatterns[:-1]]
