"""Statistics per program and month, from aggregate queries only, with small counts withheld.

No names, contacts or free text are read at all: every query groups by program and month and
returns counts (or counts per whole number of days, or per K10 score, from which medians and
90th percentiles are worked out without loading a row per referral).

Months are calendar months in the service's time zone. Definitions, also shown on the page:
- referrals: submitted in the month; diverted: of those, ever diverted to crisis help;
  matched: of those, offered at least one session.
- days to first session: calendar days from submission to the first session that was booked
  (accepted, held or missed), for referrals submitted in the month.
- invitation acceptance: of invitations sent in the month that the clinician answered or let
  expire, the share accepted.
- sessions completed and no-shows: sessions held in the month.
- K10 at intake: the median score where the person gave one, for referrals in the month.
"""

import datetime as dt
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import (
    Count,
    DurationField,
    Exists,
    ExpressionWrapper,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.functions import TruncDate, TruncMonth

from referrals.models import Program, Referral, ReferralEvent, TriageAssessment
from scheduling.models import Appointment, AppointmentEvent

A = Appointment.Status
BOOKED_STATUSES = (A.ACCEPTED, A.COMPLETED, A.NO_SHOW)
ONCE_ACCEPTED = (A.ACCEPTED, A.COMPLETED, A.NO_SHOW, A.LATE_CANCELLED)


def percentile(histogram: Counter, fraction: float) -> float | None:
    """The `fraction` quantile of the values a histogram {value: count} stands for, with linear
    interpolation between neighbouring ranks (as numpy's default does on the raw values)."""
    total = sum(histogram.values())
    if total == 0:
        return None
    position = (total - 1) * fraction
    below, above = math.floor(position), math.ceil(position)
    low = high = None
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        if low is None and seen > below:
            low = value
        if seen > above:
            high = value
            break
    return low + (high - low) * (position - below)


@dataclass
class Figures:
    """One program's figures for one month (or for the whole period)."""

    referrals: int = 0
    diverted: int = 0
    matched: int = 0
    days_to_first_session: Counter = field(default_factory=Counter)
    invitations_decided: int = 0
    invitations_accepted: int = 0
    sessions_completed: int = 0
    no_shows: int = 0
    k10_scores: Counter = field(default_factory=Counter)

    def add(self, other: "Figures") -> None:
        for name in (
            "referrals",
            "diverted",
            "matched",
            "invitations_decided",
            "invitations_accepted",
            "sessions_completed",
            "no_shows",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.days_to_first_session.update(other.days_to_first_session)
        self.k10_scores.update(other.k10_scores)


@dataclass
class ProgramStats:
    program: Program
    months: list[tuple[dt.date, Figures]]

    @property
    def whole_period(self) -> Figures:
        total = Figures()
        for _month, figures in self.months:
            total.add(figures)
        return total


def month_range(from_month: dt.date, to_month: dt.date) -> list[dt.date]:
    months, month = [], from_month.replace(day=1)
    while month <= to_month:
        months.append(month)
        month = (month + dt.timedelta(days=32)).replace(day=1)
    return months


def program_stats(
    *, from_month: dt.date, to_month: dt.date, program: Program | None = None
) -> list[ProgramStats]:
    """Figures per program (the chosen one, else every bookable one) and month between two
    months inclusive: six aggregate queries (programs, referrals, days to first session, K10,
    invitations, sessions)."""
    zone = ZoneInfo(settings.TIME_ZONE)
    months = month_range(from_month, to_month)
    start = dt.datetime.combine(months[0], dt.time(0), tzinfo=zone)
    end_month = (months[-1] + dt.timedelta(days=32)).replace(day=1)
    end = dt.datetime.combine(end_month, dt.time(0), tzinfo=zone)
    chosen = (
        Program.objects.filter(pk=program.pk)
        if program
        else Program.objects.filter(is_bookable=True)
    )
    programs = list(chosen)
    table: dict[tuple[int, dt.date], Figures] = defaultdict(Figures)
    referrals = Referral.objects.filter(
        submitted_at__gte=start, submitted_at__lt=end, program__in=programs
    ).annotate(month=TruncMonth("submitted_at", tzinfo=zone))
    _count_referrals(table, referrals)
    _count_days_to_first_session(table, referrals, zone)
    triage = TriageAssessment.objects.filter(
        referral__submitted_at__gte=start,
        referral__submitted_at__lt=end,
        referral__program__in=programs,
    )
    _count_k10(table, triage, zone)
    sessions = Appointment.objects.filter(referral__program__in=programs)
    _count_invitations(table, sessions.filter(proposed_at__gte=start, proposed_at__lt=end), zone)
    held = sessions.filter(slot__starts_at__gte=start, slot__starts_at__lt=end)
    _count_sessions(table, held, zone)
    return [
        ProgramStats(p, [(month, table.get((p.pk, month), Figures())) for month in months])
        for p in programs
    ]


def _key(row: dict, program_field: str) -> tuple[int, dt.date]:
    month = row["month"]
    return row[program_field], month.date() if isinstance(month, dt.datetime) else month


def _count_referrals(table, referrals: QuerySet[Referral]) -> None:
    ever_diverted = Exists(
        ReferralEvent.objects.filter(referral=OuterRef("pk"), to_status=Referral.Status.DIVERTED)
    )
    ever_offered = Exists(Appointment.objects.filter(referral=OuterRef("pk")))
    rows = (
        referrals.annotate(was_diverted=ever_diverted, was_offered=ever_offered)
        .values("program_id", "month")
        .annotate(
            referrals=Count("pk"),
            diverted=Count("pk", filter=Q(was_diverted=True) | Q(status=Referral.Status.DIVERTED)),
            matched=Count("pk", filter=Q(was_offered=True)),
        )
        .order_by()
    )
    for row in rows:
        figures = table[_key(row, "program_id")]
        figures.referrals, figures.diverted, figures.matched = (
            row["referrals"],
            row["diverted"],
            row["matched"],
        )


def _count_days_to_first_session(table, referrals: QuerySet[Referral], zone: ZoneInfo) -> None:
    first_session_at = (
        Appointment.objects.filter(referral=OuterRef("pk"), status__in=BOOKED_STATUSES)
        .order_by("slot__starts_at")
        .values("slot__starts_at")[:1]
    )
    rows = (
        referrals.annotate(first_session_at=Subquery(first_session_at))
        .filter(first_session_at__isnull=False)
        .annotate(
            days=ExpressionWrapper(
                TruncDate("first_session_at", tzinfo=zone) - TruncDate("submitted_at", tzinfo=zone),
                output_field=DurationField(),
            )
        )
        .values("program_id", "month", "days")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for row in rows:
        table[_key(row, "program_id")].days_to_first_session[row["days"].days] += row["n"]


def _count_k10(table, triage: QuerySet[TriageAssessment], zone: ZoneInfo) -> None:
    rows = (
        triage.filter(k10_score__isnull=False)
        .annotate(month=TruncMonth("referral__submitted_at", tzinfo=zone))
        .values("referral__program_id", "month", "k10_score")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for row in rows:
        table[_key(row, "referral__program_id")].k10_scores[row["k10_score"]] += row["n"]


def _count_invitations(table, invitations: QuerySet[Appointment], zone: ZoneInfo) -> None:
    was_accepted = Exists(
        AppointmentEvent.objects.filter(appointment=OuterRef("pk"), to_status=A.ACCEPTED)
    )
    accepted = Q(was_accepted=True) | Q(status__in=ONCE_ACCEPTED)
    rows = (
        invitations.annotate(
            month=TruncMonth("proposed_at", tzinfo=zone), was_accepted=was_accepted
        )
        .values("referral__program_id", "month")
        .annotate(
            accepted=Count("pk", filter=accepted),
            decided=Count("pk", filter=accepted | Q(status__in=(A.DECLINED, A.EXPIRED))),
        )
        .order_by()
    )
    for row in rows:
        figures = table[_key(row, "referral__program_id")]
        figures.invitations_accepted, figures.invitations_decided = row["accepted"], row["decided"]


def _count_sessions(table, sessions: QuerySet[Appointment], zone: ZoneInfo) -> None:
    rows = (
        sessions.filter(status__in=(A.COMPLETED, A.NO_SHOW))
        .annotate(month=TruncMonth("slot__starts_at", tzinfo=zone))
        .values("referral__program_id", "month")
        .annotate(
            completed=Count("pk", filter=Q(status=A.COMPLETED)),
            no_shows=Count("pk", filter=Q(status=A.NO_SHOW)),
        )
        .order_by()
    )
    for row in rows:
        figures = table[_key(row, "referral__program_id")]
        figures.sessions_completed, figures.no_shows = row["completed"], row["no_shows"]


# Showing figures without identifying anyone


def shown_count(value: int) -> str:
    """A count as shown anywhere outside the database: under the threshold it is "<5"."""
    return f"<{settings.STATS_SMALL_COUNT}" if value < settings.STATS_SMALL_COUNT else str(value)


def _shown_number(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


@dataclass(frozen=True)
class ShownFigures:
    """Figures as text, small counts withheld; medians and rates from fewer than the threshold
    of cases are withheld too, since they would describe those few people."""

    referrals: str
    diverted: str
    matched: str
    days_median: str
    days_p90: str
    acceptance_rate: str
    sessions_completed: str
    no_shows: str
    k10_given: str
    k10_median: str

    @classmethod
    def of(cls, figures: Figures) -> "ShownFigures":
        enough = settings.STATS_SMALL_COUNT
        days, k10 = figures.days_to_first_session, figures.k10_scores
        days_n, k10_n = sum(days.values()), sum(k10.values())
        withheld = shown_count(0)
        return cls(
            referrals=shown_count(figures.referrals),
            diverted=shown_count(figures.diverted),
            matched=shown_count(figures.matched),
            days_median=_shown_number(percentile(days, 0.5)) if days_n >= enough else withheld,
            days_p90=_shown_number(percentile(days, 0.9)) if days_n >= enough else withheld,
            acceptance_rate=(
                f"{100 * figures.invitations_accepted / figures.invitations_decided:.0f}%"
                if figures.invitations_decided >= enough
                else withheld
            ),
            sessions_completed=shown_count(figures.sessions_completed),
            no_shows=shown_count(figures.no_shows),
            k10_given=shown_count(k10_n),
            k10_median=_shown_number(percentile(k10, 0.5)) if k10_n >= enough else withheld,
        )


CSV_COLUMNS = (
    ("referrals", "Referrals"),
    ("diverted", "Diverted"),
    ("matched", "Matched"),
    ("days_median", "Median days to first session"),
    ("days_p90", "90th percentile days to first session"),
    ("acceptance_rate", "Invitation acceptance rate"),
    ("sessions_completed", "Sessions completed"),
    ("no_shows", "No-shows"),
    ("k10_given", "K10 given"),
    ("k10_median", "Median K10 at intake"),
)
