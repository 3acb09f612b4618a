from django.urls import path

from . import views

app_name = "referrals"

self_referral = views.SelfReferralWizard.as_view(
    url_name=views.SELF_REFERRAL.step_url_name, done_step_name="done"
)
phone_intake = views.PhoneIntakeWizard.as_view(
    url_name=views.PHONE_INTAKE.step_url_name, done_step_name="done"
)
SELF = {"mode": views.SELF_REFERRAL.name}
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
]
