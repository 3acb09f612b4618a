"""instances_with_related: a model's rows with their foreign keys loaded in one statement, as
the ORM's select_related would load them."""

import pytest
from django.db import DatabaseError, connection, transaction

from config.db import among_sql, instances_with_related
from referrals.models import Referral
from scheduling.models import Appointment
from tests.concurrency import run_at_once
from tests.scheduling.factories import AppointmentFactory

pytestmark = pytest.mark.django_db

RELATED = ("referral", "referral__program", "clinician", "slot")


def _read(ids, **options):
    where, params = among_sql("t0.id", ids)
    return instances_with_related(
        Appointment, related=RELATED, where=where, params=params, order_by="t0.id", **options
    )


def _values(instance):
    return {f.attname: getattr(instance, f.attname) for f in instance._meta.concrete_fields}


def test_the_rows_and_their_related_rows_are_those_the_orm_reads():
    made = AppointmentFactory.create_batch(3)
    expected = (
        Appointment.objects.select_related(*RELATED)
        .filter(pk__in=[a.pk for a in made])
        .order_by("pk")
    )

    found = _read([a.pk for a in made])

    assert [a.pk for a in found] == [a.pk for a in expected]
    for read, orm in zip(found, expected, strict=True):
        assert _values(read) == _values(orm)
        assert _values(read.referral) == _values(orm.referral)  # decrypted, as the ORM does
        assert _values(read.referral.program) == _values(orm.referral.program)
        assert _values(read.clinician) == _values(orm.clinician)
        assert _values(read.slot) == _values(orm.slot)
        assert read.slot.starts_at.utcoffset() is not None


def test_the_related_rows_need_no_further_query(django_assert_num_queries):
    appointment = AppointmentFactory()

    with django_assert_num_queries(1):
        (found,) = _read([appointment.pk])
        assert found.referral.program.name == appointment.referral.program.name
        assert found.clinician.calendar_email == appointment.clinician.calendar_email
        assert found.slot.ends_at == appointment.slot.ends_at


def test_a_deferred_field_is_left_out_and_read_when_asked_for(django_assert_num_queries):
    appointment = AppointmentFactory(referral__details="What I wrote")

    with django_assert_num_queries(1):
        (found,) = _read([appointment.pk], defer=("referral__details",))
    assert "details" in found.referral.get_deferred_fields()
    with django_assert_num_queries(1):
        assert found.referral.details == "What I wrote"


def test_a_null_foreign_key_comes_back_as_none():
    with_episode = AppointmentFactory().referral
    without = AppointmentFactory(referral__episode=None).referral

    where, params = among_sql("t0.id", [with_episode.pk, without.pk])
    found = instances_with_related(
        Referral, related=("episode",), where=where, params=params, order_by="t0.id"
    )

    assert [r.episode for r in found] == [with_episode.episode, None]


def test_nothing_found_is_an_empty_list():
    assert _read([987654]) == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_locked_read_holds_the_rows_until_the_transaction_ends():
    appointment = AppointmentFactory()
    refused = []

    def read_and_hold():
        with transaction.atomic():
            _read([appointment.pk], lock=True)
            errors = run_at_once([take_without_waiting])
            refused.extend(errors)

    def take_without_waiting():
        with transaction.atomic():
            Appointment.objects.select_for_update(nowait=True).get(pk=appointment.pk)

    read_and_hold()

    assert connection.vendor == "postgresql"
    assert len(refused) == 1 and isinstance(refused[0], DatabaseError)


def test_only_reads_the_fields_named_and_the_keys_the_joins_need(django_assert_num_queries):
    appointment = AppointmentFactory()

    with django_assert_num_queries(1):
        (found,) = _read([appointment.pk], only=("status", "referral__status", "slot__starts_at"))
        assert found.referral.pk == appointment.referral_id
        assert found.slot.starts_at == appointment.slot.starts_at
        assert found.referral.program.pk == appointment.referral.program_id
    assert {"session_number", "modality"} <= found.get_deferred_fields()
    assert "family_name" in found.referral.get_deferred_fields()
    assert "program_id" not in found.referral.get_deferred_fields()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_skip_locked_leaves_out_the_rows_another_transaction_holds():
    held, free = AppointmentFactory(), AppointmentFactory()
    seen = []

    def hold_and_look():
        with transaction.atomic():
            Appointment.objects.select_for_update().get(pk=held.pk)
            run_at_once([look])

    def look():
        with transaction.atomic():
            seen.extend(a.pk for a in _read([held.pk, free.pk], lock=True, skip_locked=True))

    hold_and_look()

    assert seen == [free.pk]


@pytest.mark.parametrize("count", [0, 1, 2, 300])
def test_among_sql_keeps_exactly_the_rows_asked_for(count):
    made = AppointmentFactory.create_batch(3)
    wanted = [made[0].pk, made[2].pk, *range(10**9, 10**9 + max(0, count - 2))][:count]
    condition, params = among_sql("id", wanted)
    statuses, status_params = among_sql("status", ["proposed", "accepted"])

    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id FROM scheduling_appointment WHERE {condition} AND {statuses}",
            [*params, *status_params],
        )
        found = sorted(pk for (pk,) in cursor.fetchall())

    assert found == sorted(pk for pk in wanted if pk in {a.pk for a in made})
