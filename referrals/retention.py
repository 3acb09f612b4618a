"""What the referrals app destroys when a referral is de-identified (privacy.services.retention).

Kept for statistics: program, status, source, priority, dates, career stage, state, districts,
reason codes, preferences, consents, the closing outcome (a code) and the triage outcome, score
and rule. Blanked: who the
person is, how to reach them, and everything typed as free text.
"""

from django.db.models import Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from .models import Episode, Referral, ReferralEvent, TriageAssessment

PERSONAL_FIELDS_BLANKED = {
    "given_name": "",
    "family_name": "",
    "preferred_name": "",
    "email": "",
    "phone": "",
    "referrer_name": "",
    "referrer_email": "",
    "specialty": "",
    "workplace_facility": None,
    "details": "",
    "unmatched_reason": "",
    "hold_reason": "",
    "urgent_acknowledgement_note": "",
}


def referral_deidentify_personal_data(*, referral_id: int) -> dict[str, list[int]]:
    """Blank the referral's personal fields, its history's reasons and its triage answers.

    The episode's email and override reason go too once no other referral of the episode still
    holds personal data; the episode is closed then, so the person can start afresh.
    Returns {model label: [ids]} of the rows changed. Runs inside the caller's transaction.
    """
    referral = Referral.objects.get(pk=referral_id)
    Referral.objects.filter(pk=referral_id).update(
        **PERSONAL_FIELDS_BLANKED, updated_at=timezone.now()
    )
    events = ReferralEvent.objects.filter(referral_id=referral_id)
    event_ids = list(events.values_list("pk", flat=True))
    events.update(reason="")
    triage = TriageAssessment.objects.filter(referral_id=referral_id)
    triage_ids = list(triage.values_list("pk", flat=True))
    triage.update(answers={})
    rows = {
        Referral._meta.label_lower: [referral_id],
        ReferralEvent._meta.label_lower: event_ids,
        TriageAssessment._meta.label_lower: triage_ids,
    }
    if referral.episode_id and _is_episode_anonymous(referral.episode_id):
        Episode.objects.filter(pk=referral.episode_id).update(
            email_normalised="",
            limit_override_reason="",
            closed_at=Coalesce("closed_at", Value(timezone.now())),
        )
        rows[Episode._meta.label_lower] = [referral.episode_id]
    return rows


def _is_episode_anonymous(episode_id: int) -> bool:
    return not Referral.objects.filter(episode_id=episode_id).exclude(email="").exists()
