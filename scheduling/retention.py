"""What the scheduling app destroys when a referral is de-identified (privacy.services.retention).

Kept for statistics: each session's clinician, slot, status, number and modality. Blanked: the
free text written about the sessions and the matcher's explanation of why they were chosen.
"""

from .models import Appointment, AppointmentEvent


def referral_deidentify_appointments(*, referral_id: int) -> dict[str, list[int]]:
    """Blank the free text of the referral's appointments and their history.

    Returns {model label: [ids]} of the rows changed. Runs inside the caller's transaction.
    """
    appointments = Appointment.objects.filter(referral_id=referral_id)
    appointment_ids = list(appointments.values_list("pk", flat=True))
    appointments.update(manual_assignment_reason="", match_explanation={})
    events = AppointmentEvent.objects.filter(appointment__referral_id=referral_id)
    event_ids = list(events.values_list("pk", flat=True))
    events.update(reason="")
    return {
        Appointment._meta.label_lower: appointment_ids,
        AppointmentEvent._meta.label_lower: event_ids,
    }
