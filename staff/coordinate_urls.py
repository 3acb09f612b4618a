"""The coordinator workspace: queues, cases, clinicians and statistics."""

from django.urls import path

from .views import cases, clinicians, dashboard, deletions, stats

app_name = "coordinate"

case = "cases/<str:reference>/"
appointment = f"{case}sessions/<int:appointment_id>/"
clinician = "clinicians/<int:clinician_id>/"

urlpatterns = [
    path("", dashboard.dashboard, name="dashboard"),
    path("counts/", dashboard.counts, name="counts"),
    path(case, cases.case_detail, name="case"),
    path(f"{case}reveal/", cases.case_reveal, name="case_reveal"),
    path(f"{case}acknowledge/", cases.case_acknowledge, name="case_acknowledge"),
    path(f"{case}assign/", cases.case_assign, name="case_assign"),
    path(f"{case}match/", cases.case_match, name="case_match"),
    path(f"{case}limit/", cases.case_limit_override, name="case_limit"),
    path(f"{case}note/", cases.case_note, name="case_note"),
    path(f"{case}close/", cases.case_close, name="case_close"),
    path(f"{appointment}cancel/", cases.appointment_cancel, name="appointment_cancel"),
    path(f"{appointment}resend/", cases.appointment_resend, name="appointment_resend"),
    path(f"{appointment}rematch/", cases.appointment_rematch, name="appointment_rematch"),
    path(f"{appointment}reschedule/", cases.appointment_reschedule, name="appointment_reschedule"),
    path("deletion-requests/", deletions.deletion_requests, name="deletion_requests"),
    path(f"{case}delete/", deletions.deletion_confirm, name="deletion_confirm"),
    path("clinicians/", clinicians.clinician_list, name="clinicians"),
    path("clinicians/new/", clinicians.clinician_create, name="clinician_create"),
    path(clinician, clinicians.clinician_edit, name="clinician"),
    path(f"{clinician}availability/", clinicians.availability, name="availability"),
    path(
        f"{clinician}availability/<int:rule_id>/delete/",
        clinicians.availability_delete,
        name="availability_delete",
    ),
    path(f"{clinician}leave/", clinicians.leave, name="leave"),
    path(
        f"{clinician}leave/<int:time_off_id>/delete/", clinicians.leave_delete, name="leave_delete"
    ),
    path(f"{clinician}deactivate/", clinicians.clinician_deactivate, name="clinician_deactivate"),
    path("stats/", stats.stats_page, name="stats"),
    path("stats.csv", stats.stats_csv, name="stats_csv"),
]
