"""Recording who looked at a person's details, in the audit log. The values shown are never
stored, only which look it was."""

from django.contrib.auth.models import AbstractBaseUser
from django.db import models

from privacy.models import AuditEntry
from privacy.services import audit_record


class Look:
    """The details each staff page shows; the audit entry's detail names the look."""

    VIEWED_CASE = "viewed the case and contact details"
    REVEALED_TRIAGE = "revealed triage answers and details"
    VIEWED_FOR_ASSIGNMENT = "viewed the workplace to assign a session"
    CLINICIAN_VIEWED_CONTACT = "clinician viewed the contact details for a session"
    CLINICIAN_VIEWED_TRIAGE = "clinician viewed the contact details and triage for a session"


def view_log_record(*, user: AbstractBaseUser, obj: models.Model, look: str) -> AuditEntry:
    """Append one audit entry: this user took this look at `obj` now (one insert, in the
    caller's transaction if there is one)."""
    return audit_record(user=user, action=AuditEntry.Action.VIEW, obj=obj, detail=look)
