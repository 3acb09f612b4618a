"""Reads for the referral journey, with their queries decided here."""

import threading
import time
from collections.abc import Callable
from functools import cached_property

from django.conf import settings
from django.db import connection, transaction

from .eligibility import ProgramRules
from .models import District, Episode, Facility, Program, Referral

_reference_lock = threading.Lock()
_reference_rows: dict[str, tuple[float, list]] = {}


def _reference(name: str, load: Callable[[], list]) -> list:
    """Reference data (programs, districts, facilities) kept in this process for
    REFERENCE_DATA_CACHE_SECONDS: every wizard page and every submission needs them, and they
    change only when someone edits them in the admin. The rows are shared between requests and
    threads, so callers read them and never change them."""
    ttl = settings.REFERENCE_DATA_CACHE_SECONDS
    if ttl <= 0:
        return load()
    now = _clock()
    kept = _reference_rows.get(name)
    if kept is not None and now < kept[0]:
        return kept[1]
    rows = load()
    with _reference_lock:
        _reference_rows[name] = (now + ttl, rows)
    return rows


def _clock() -> float:
    return time.monotonic()


def reference_data_forget(**kwargs) -> None:
    """Drop this process's reference data: at once and again when the current transaction
    commits (post_save/post_delete receiver for Program, District and Facility), so an edit
    is seen here straight away and by other processes within REFERENCE_DATA_CACHE_SECONDS."""
    _reference_rows.clear()
    transaction.on_commit(_reference_rows.clear)


def reference_programs() -> list[Program]:
    """Every program, in display order (shared rows: read only)."""
    return _reference("programs", lambda: list(Program.objects.all()))


class Catalogue:
    """Programs, districts and facilities for one request (kept for a while per process, see
    `_reference`).

    A wizard step needs some of them to build its choices and to show earlier answers; loading
    them lazily and rarely keeps every step within its query budget.
    """

    @cached_property
    def programs(self) -> list[Program]:
        return reference_programs()

    @cached_property
    def bookable_programs(self) -> list[Program]:
        return [program for program in self.programs if program.is_bookable]

    @cached_property
    def information_only_programs(self) -> list[Program]:
        return [program for program in self.programs if not program.is_bookable]

    def program(self, code: str) -> Program | None:
        return next((p for p in self.programs if p.code == code), None)

    @cached_property
    def districts(self) -> list[District]:
        return _reference("districts", lambda: list(District.objects.all()))

    def district(self, district_id: int | None) -> District | None:
        return next((d for d in self.districts if d.pk == district_id), None)

    @cached_property
    def facilities(self) -> list[Facility]:
        return _reference("facilities", lambda: list(Facility.objects.order_by("name")))

    def facilities_in(self, district_id: int | None) -> list[Facility]:
        return [f for f in self.facilities if f.district_id == district_id]

    def facility(self, facility_id: int | None) -> Facility | None:
        return next((f for f in self.facilities if f.pk == facility_id), None)


def program_rules(program: Program) -> ProgramRules:
    """What the pure eligibility rule needs to know of a program."""
    return ProgramRules(
        code=program.code,
        eligible_career_stages=tuple(program.eligible_career_stages),
        is_nsw_health_only=program.is_nsw_health_only,
    )


def referral_for_confirmation(*, referral_id: int) -> Referral | None:
    """The referral with what its confirmation or crisis page shows, or None if it is gone."""
    return (
        Referral.objects.select_related("program", "workplace_district", "employer_district")
        .filter(pk=referral_id)
        .first()
    )


def episode_appointment_statuses(*, episode_id: int) -> list[str]:
    """The status of every appointment of every referral in the episode."""
    statuses = Referral.objects.filter(episode_id=episode_id).values_list(
        "appointments__status", flat=True
    )
    return [status for status in statuses if status]  # None: a referral with no appointment


def open_episode_for_update(*, program: Program, email_normalised: str) -> Episode | None:
    """The person's open episode with the program, locked for the caller's transaction."""
    return (
        Episode.objects.select_for_update()
        .filter(program=program, email_normalised=email_normalised, closed_at__isnull=True)
        .first()
    )


def open_referral_ids_for_email(email: str) -> list[int]:
    """The person's referrals still open (not closed or withdrawn), found by their address."""
    return list(
        Referral.objects.filter(email__iexact=email.strip())
        .exclude(status__in=(Referral.Status.CLOSED, Referral.Status.WITHDRAWN))
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def referral_ids_waiting_for_match(*, limit: int) -> list[int]:
    """NEW referrals whose match has been asked for, PRIORITY first, then oldest."""
    return list(
        Referral.objects.filter(status=Referral.Status.NEW, match_requested_at__isnull=False)
        .order_by("-priority", "submitted_at")
        .values_list("pk", flat=True)[:limit]
    )


def referral_status_and_burst(*, referral_id: int, burst_size: int) -> tuple[str | None, bool]:
    """The referral's status (None when it is gone) and whether at least `burst_size`
    referrals are waiting for a match (as referral_ids_waiting_for_match and the partial index
    referral_waiting_match_idx define them), in one statement. Written as SQL: the ORM took
    longer to build it (about 1.5 ms) than PostgreSQL took to run it. A match task on
    PostgreSQL asks the same as part of its referral's locked read
    (scheduling.selectors.referral_locked_for_matching)."""
    meta = Referral._meta
    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    pk, status, requested = (
        quote(meta.get_field(name).column) for name in ("id", "status", "match_requested_at")
    )
    sql = (
        f"SELECT {status}, EXISTS (SELECT 1 FROM {table} WHERE {status} = %s"
        f" AND {requested} IS NOT NULL LIMIT 1 OFFSET %s) FROM {table} WHERE {pk} = %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [Referral.Status.NEW, burst_size - 1, referral_id])
        row = cursor.fetchone()
    if row is None:
        return None, False
    return row[0], bool(row[1])
