from django.urls import path

from . import referrer_views as mine
from . import views

app_name = "referrals"

self_referral = views.SelfReferralWizard.as_view(
    url_name=views.SELF_REFERRAL.step_url_name, done_step_name="done"
)
phone_intake = views.PhoneIntakeWizard.as_view(
    url_name=views.PHONE_INTAKE.step_url_name, done_step_name="done"
)
SELF = {"mode": views.SELF_REFERRAL.name}
my = "my/<str:token>/"
my_session = f"{my}sessions/<int:appointment_id>/"
INTAKE = {"mode": views.PHONE_INTAKE.name}

urlpatterns = [
    path("", views.home, name="home"),
    path("collection-notice/", views.collection_notice, name="collection_notice"),
    # The fixed pages come before the step pattern, which would otherwise take their names.
    path("refer/sent/", views.referral_submitted, SELF, name="refer_sent"),
    path("refer/urgent/", views.referral_diverted, SELF, name="refer_urgent"),
    path("refer/<slug:step>/", self_referral, name="refer_step"),
    path("refer/", self_referral, name="refer"),
    path("intake/phone/sent/", views.intake_submitted, INTAKE, name="intake_sent"),
    path("intake/phone/urgent/", views.intake_diverted, INTAKE, name="intake_urgent"),
    path("intake/phone/<slug:step>/", phone_intake, name="intake_step"),
    path("intake/phone/", phone_intake, name="intake"),
    # The referrer's page. The fixed "link" pages come first: a token never reads "link".
    path("my/link/", mine.referrer_link_request, name="my_link"),
    path("my/link/sent/", mine.referrer_link_sent, name="my_link_sent"),
    path(my, mine.referrer_page, name="my_referral"),
    path(f"{my}next/", mine.referrer_next_session, name="my_next"),
    path(f"{my}withdraw/", mine.referrer_withdraw, name="my_withdraw"),
    path(f"{my}delete/", mine.referrer_deletion_request, name="my_delete"),
    path(f"{my_session}session.ics", mine.referrer_session_ics, name="my_session_ics"),
    path(f"{my_session}cancel/", mine.referrer_cancel, name="my_cancel"),
    path(f"{my_session}reschedule/", mine.referrer_reschedule, name="my_reschedule"),
]
