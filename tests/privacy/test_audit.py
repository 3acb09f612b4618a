import pytest
from django.contrib import admin
from django.db import DatabaseError, connection, transaction

from privacy.append_only import AppendOnlyError, purge_permitted
from privacy.models import AuditEntry, RetentionRecord
from privacy.selectors import audit_entries_for
from privacy.services import audit_record, audit_record_bulk
from referrals.models import Referral
from tests.referrals.factories import ReferralFactory
from tests.scheduling.factories import UserFactory

pytestmark = pytest.mark.django_db


def _raw(sql: str, params=()) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_a_coordinator_viewing_a_referral_is_recorded_with_who_what_and_when():
    coordinator = UserFactory(username="coordinator-ann")
    referral = ReferralFactory()
    entry = audit_record(
        user=coordinator, action=AuditEntry.Action.VIEW, obj=referral, detail="viewed details"
    )
    assert list(audit_entries_for(obj=referral)) == [entry]
    assert (entry.actor, entry.actor_label, entry.object_type, entry.object_id) == (
        coordinator,
        "coordinator-ann",
        "referrals.referral",
        str(referral.pk),
    )
    assert entry.occurred_at is not None


def test_a_change_without_a_signed_in_user_is_recorded_under_its_label():
    referral = ReferralFactory()
    assert audit_record(user=None, action="change", obj=referral).actor_label == "system"
    entry = audit_record(user=None, action="change", obj=referral, actor_label="referrer")
    assert (entry.actor, entry.actor_label) == (None, "referrer")


def test_contact_details_typed_into_an_audit_detail_are_scrubbed():
    referral = ReferralFactory()
    entry = audit_record(
        user=None,
        action="change",
        obj=referral,
        detail="emailed marker.person@example.test and rang 0412 345 678",
    )
    assert "marker.person" not in entry.detail and "0412" not in entry.detail


def test_a_bulk_change_records_every_referral_it_touched_as_one_act():
    coordinator = UserFactory()
    referrals = ReferralFactory.create_batch(3)
    ids = [referral.pk for referral in referrals]
    entries = audit_record_bulk(
        user=coordinator, action="change", model=Referral, object_ids=[*ids, ids[0]]
    )
    assert sorted(int(entry.object_id) for entry in entries) == sorted(ids)
    assert len({entry.batch_id for entry in entries}) == 1 and entries[0].batch_id is not None
    for referral in referrals:
        assert audit_entries_for(obj=referral).count() == 1


def test_an_audit_entry_cannot_be_edited_or_deleted_through_django():
    entry = audit_record(user=None, action="view", obj=ReferralFactory())
    entry.detail = "rewritten history"
    with pytest.raises(AppendOnlyError):
        entry.save()
    with pytest.raises(AppendOnlyError):
        entry.delete()
    with pytest.raises(AppendOnlyError):
        AuditEntry.objects.filter(pk=entry.pk).update(detail="rewritten")
    with pytest.raises(AppendOnlyError):
        AuditEntry.objects.all().delete()
    assert AuditEntry.objects.get(pk=entry.pk).detail == ""


def test_the_database_refuses_to_change_or_delete_audit_rows_even_with_raw_sql():
    entry = audit_record(user=None, action="view", obj=ReferralFactory(), detail="viewed")
    for sql in (
        "UPDATE privacy_auditentry SET detail = 'rewritten' WHERE id = %s",
        "DELETE FROM privacy_auditentry WHERE id = %s",
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            _raw(sql, [entry.pk])
    assert AuditEntry.objects.get(pk=entry.pk).detail == "viewed"


def test_only_the_purge_permission_lets_rows_change():
    entry = audit_record(user=None, action="view", obj=ReferralFactory(), detail="viewed")
    with purge_permitted():
        _raw("UPDATE privacy_auditentry SET detail = '' WHERE id = %s", [entry.pk])
    assert AuditEntry.objects.get(pk=entry.pk).detail == ""
    with pytest.raises(DatabaseError), transaction.atomic():
        _raw("DELETE FROM privacy_auditentry WHERE id = %s", [entry.pk])


@pytest.mark.parametrize("model", [AuditEntry, RetentionRecord])
def test_the_admin_offers_nobody_a_way_to_add_change_or_delete_audit_rows(model, rf):
    request = rf.get("/")
    request.user = UserFactory(is_staff=True, is_superuser=True)
    model_admin = admin.site._registry[model]
    assert model_admin.has_view_permission(request)
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)


@pytest.mark.django_db(transaction=True)
def test_flush_between_transactional_tests_still_empties_the_audit_log():
    from django.core.management import call_command

    audit_record(user=None, action="view", obj=ReferralFactory())
    call_command("flush", interactive=False, verbosity=0)
    assert AuditEntry.objects.count() == 0
