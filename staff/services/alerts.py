"""Re-alerting the on-call address about urgent cases nobody has acknowledged."""

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from notifications.services import referral_notify
from referrals.models import Referral

from ..models import UrgentRealert
from ..selectors import with_diverted_at


def urgent_realerts_due(*, now: dt.datetime, referral_id: int | None = None) -> list[int]:
    """Ids of diverted, unacknowledged cases urgent for longer than the re-alert interval whose
    last re-alert (if any) is at least that old and that have not used up their re-alerts."""
    threshold = now - dt.timedelta(minutes=settings.STAFF_URGENT_REALERT_MINUTES)
    candidates = Referral.objects.filter(
        status=Referral.Status.DIVERTED, urgent_acknowledged_at__isnull=True
    )
    if referral_id is not None:
        candidates = candidates.filter(pk=referral_id)
    never_sent = Q(urgent_realert__isnull=True)
    sent_long_ago = Q(
        urgent_realert__last_sent_at__lte=threshold,
        urgent_realert__times_sent__lt=settings.STAFF_URGENT_REALERT_MAX_TIMES,
    )
    due = with_diverted_at(candidates).filter(
        Q(diverted_at__lte=threshold) & (never_sent | sent_long_ago)
    )
    return list(due.values_list("pk", flat=True))


@transaction.atomic
def referral_urgent_realert(*, referral_id: int, now: dt.datetime | None = None) -> bool:
    """Re-alert the on-call address about one case if it is still due, and record that it did.

    Idempotent: the referral row is locked before the conditions are checked, so a second run in
    the same interval sends nothing. Returns whether an alert was queued (an outbox row written
    through notifications.services.referral_notify in this transaction).
    """
    now = now or timezone.now()
    locked = Referral.objects.select_for_update().filter(pk=referral_id).values_list("pk")
    if not list(locked):
        return False
    if not urgent_realerts_due(now=now, referral_id=referral_id):
        return False
    record, _ = UrgentRealert.objects.get_or_create(
        referral_id=referral_id, defaults={"last_sent_at": now}
    )
    record.times_sent += 1
    record.last_sent_at = now
    record.save(update_fields=["times_sent", "last_sent_at"])
    referral_notify(referral_id=referral_id, change="urgent_unacknowledged")
    return True
