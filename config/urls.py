from django.conf import settings
from django.contrib import admin
from django.urls import include, path

handler400 = "referrals.views.bad_request"

urlpatterns = [
    path(settings.ADMIN_URL, admin.site.urls),
    path("staff/", include("staff.urls")),
    path("coordinate/", include("staff.coordinate_urls")),
    path("clinician/", include("staff.clinician_urls")),
    path("calendar/", include("notifications.urls")),
    path("", include("referrals.urls")),
]

# While the database is unreachable a person gets the "try again" page (503), never a traceback.
handler500 = "config.views.server_error"
