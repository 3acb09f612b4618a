"""The clinician's own portal: sessions, availability, leave, capacity and calendar feed."""

from django.urls import path

from .views import clinician_portal as portal

app_name = "clinician"

session = "sessions/<int:appointment_id>/"

urlpatterns = [
    path("", portal.sessions, name="sessions"),
    path(session, portal.session_detail, name="session"),
    path(f"{session}respond/", portal.session_respond, name="respond"),
    path(f"{session}complete/", portal.session_complete, name="complete"),
    path(f"{session}no-show/", portal.session_no_show, name="no_show"),
    path("availability/", portal.availability, name="availability"),
    path(
        "availability/<int:rule_id>/delete/",
        portal.availability_delete,
        name="availability_delete",
    ),
    path("leave/", portal.leave, name="leave"),
    path("leave/<int:time_off_id>/delete/", portal.leave_delete, name="leave_delete"),
    path("capacity/", portal.capacity, name="capacity"),
    path("feed/", portal.feed, name="feed"),
    path("feed/new-address/", portal.feed_rotate, name="feed_rotate"),
]
