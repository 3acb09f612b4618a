from django.urls import path

from . import views

app_name = "notifications"

urlpatterns = [
    path("inbound/", views.inbound_mail, name="inbound"),
    path("respond/<str:token>/", views.respond, name="respond"),
    path("feed/<str:token>.ics", views.feed, name="feed"),
]
