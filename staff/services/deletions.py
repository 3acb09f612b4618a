"""A person's request, from their own page, to have their details deleted: a coordinator
confirms it here, and the referral is de-identified."""

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from privacy.models import RetentionRecord
from privacy.services import ReferralStillOpen, referral_deidentify
from referrals.models import Referral

from .cases import CaseActionError


@transaction.atomic
def referral_deletion_confirm(*, referral_id: int, actor: AbstractBaseUser) -> RetentionRecord:
    """De-identify a referral whose person asked for deletion (privacy.services.
    referral_deidentify, reason "person_request"): names, contact details, free text and
    triage answers are destroyed across every app; statuses, dates and codes stay for
    statistics, and the register records who confirmed it. Idempotent. Sends nothing: the
    person's address is gone (their page said a coordinator would confirm)."""
    referral = Referral.objects.select_for_update().get(pk=referral_id)
    if referral.deletion_requested_at is None:
        raise CaseActionError("The person has not asked for their details to be deleted.")
    try:
        return referral_deidentify(
            referral_id=referral.pk, reason=RetentionRecord.Reason.PERSON_REQUEST, actor=actor
        )
    except ReferralStillOpen as error:
        raise CaseActionError("Close or withdraw the case before deleting its details.") from error
