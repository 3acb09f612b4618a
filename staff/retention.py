"""What the staff app destroys when a referral is de-identified (privacy.services.retention).

Kept: that a coordinator acted on the case, and when. Blanked: what they wrote about it.
"""

from .models import CaseActivity


def referral_deidentify_case_notes(*, referral_id: int) -> dict[str, list[int]]:
    """Blank the text of every note and action recorded on the case.

    Returns {model label: [ids]} of the rows changed. Runs inside the caller's transaction.
    """
    activities = CaseActivity.objects.filter(referral_id=referral_id)
    activity_ids = list(activities.values_list("pk", flat=True))
    activities.update(text="")
    return {CaseActivity._meta.label_lower: activity_ids}
