"""Against a real Redis broker and worker: messages carry ids only and retention runs there."""

import datetime as dt
import json
import time

import pytest
from celery.signals import before_task_publish
from django.utils import timezone

from privacy.models import RetentionRecord
from privacy.tasks import retention_sweep
from referrals.models import Referral, ReferralEvent
from scheduling.tasks import match_referral
from tests.referrals.factories import ReferralFactory

pytestmark = pytest.mark.services

MARKER = "MARKER-worker-private-words"
MARKER_EMAIL = "marker.worker@example.test"


@pytest.fixture
def published():
    """Every message this process publishes, serialised as it goes to Redis."""
    messages: list[str] = []

    def keep(sender=None, body=None, headers=None, **kwargs):
        messages.append(json.dumps({"body": body, "headers": headers}, default=str))

    before_task_publish.connect(keep, weak=False)
    yield messages
    before_task_publish.disconnect(keep)


def _old_closed_referral() -> Referral:
    referral = ReferralFactory(status="closed", details=MARKER, email=MARKER_EMAIL)
    ReferralEvent.objects.create(
        referral=referral, to_status="closed", actor_label="coordinator", reason=MARKER
    )
    long_ago = timezone.now() - dt.timedelta(days=365 * 9)
    Referral.objects.filter(pk=referral.pk).update(submitted_at=long_ago)
    ReferralEvent.objects.filter(referral=referral).update(occurred_at=long_ago)
    return referral


def test_the_worker_deidentifies_and_no_message_or_log_line_carries_personal_data(
    celery_worker_process, published, tmp_path
):
    referral = _old_closed_referral()
    match_referral.delay(referral.pk)
    retention_sweep.delay()
    deadline = time.monotonic() + 30
    while not RetentionRecord.objects.filter(referral_id=referral.pk).exists():
        assert time.monotonic() < deadline, "the worker did not run the retention sweep"
        time.sleep(0.2)  # polling a real worker with a bounded deadline
    referral.refresh_from_db()
    assert (referral.details, referral.email) == ("", "")
    assert len(published) == 2
    for message in published:
        assert MARKER not in message and MARKER_EMAIL not in message
    worker_log = (tmp_path / "celery-worker.log").read_text(errors="replace")
    assert MARKER not in worker_log and MARKER_EMAIL not in worker_log
