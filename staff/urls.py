"""Pages every staff member uses: sign-in, second factor, password reset, home, a clinician's
week."""

from django.urls import path

from .views import auth, home

app_name = "staff"

urlpatterns = [
    path("", home.home, name="home"),
    path("sign-in/", auth.sign_in, name="sign_in"),
    path("code/", auth.verify, name="verify"),
    path("two-factor-set-up/", auth.enrol, name="enrol"),
    path("sign-out/", auth.sign_out, name="sign_out"),
    path("backup-codes/", auth.backup_codes, name="backup_codes"),
    path("password-reset/", auth.PasswordResetView.as_view(), name="password_reset"),
    path("password-reset/sent/", auth.PasswordResetSentView.as_view(), name="password_reset_sent"),
    path(
        "password-reset/<uidb64>/<token>/",
        auth.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path("password-reset/done/", auth.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path("clinicians/<int:clinician_id>/week/", home.clinician_week, name="clinician_week"),
]
