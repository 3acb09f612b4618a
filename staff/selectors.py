"""Reads for the coordinator workspace: the dashboard queues, a case and its timeline, a
clinician's week. Each decides its own select_related/prefetch so a page costs a fixed number of
queries however many cases there are."""

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.paginator import Page, Paginator
from django.db.models import Count, F, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import dateformat, timezone

from notifications.selectors import messages_for_referral, replies_for_referral
from privacy.models import AuditEntry
from privacy.selectors import audit_entries_for
from referrals.models import District, Program, Referral, ReferralEvent
from scheduling.models import Appointment, AppointmentEvent, Clinician, Modality, Slot, TimeOff

from .models import CaseActivity
from .services.assignment import sessions_counted

A = Appointment.Status
R = Referral.Status
STATUS_LABELS = dict(R.choices)
SESSION_LABELS = dict(A.choices)
MODALITY_LABELS = dict(Modality.choices)


def with_diverted_at(referrals: QuerySet[Referral]) -> QuerySet[Referral]:
    """Annotate when each case last became urgent (its submission if it was urgent from the
    start), for ages and for ordering oldest first."""
    last_diverted = (
        ReferralEvent.objects.filter(referral=OuterRef("pk"), to_status=R.DIVERTED)
        .order_by("-occurred_at")
        .values("occurred_at")[:1]
    )
    return referrals.annotate(diverted_at=Coalesce(Subquery(last_diverted), F("submitted_at")))


@dataclass(frozen=True)
class QueueFilters:
    program: Program | None = None
    district: District | None = None
    reference: str = ""

    def referrals(self, referrals: QuerySet[Referral], prefix: str = "") -> QuerySet[Referral]:
        if self.program is not None:
            referrals = referrals.filter(**{f"{prefix}program": self.program})
        if self.district is not None:
            referrals = referrals.filter(
                Q(**{f"{prefix}workplace_district": self.district})
                | Q(**{f"{prefix}employer_district": self.district})
            )
        if self.reference:
            # The filter form upper-cases the search, as references are: a case-sensitive
            # prefix match can then use the reference's index, which istartswith cannot.
            referrals = referrals.filter(**{f"{prefix}reference__startswith": self.reference})
        return referrals


@dataclass(frozen=True)
class Queue:
    key: str
    title: str
    description: str
    page: Page


@dataclass(slots=True)
class CaseRow:
    """A case as a dashboard row shows it: plain values, with its address filled in by the
    view. A page holds up to 120 rows, and model instances with their related rows cost
    several times the query."""

    pk: int
    reference: str
    status: str
    program_short_name: str
    hold_reason: str
    unmatched_reason: str
    closed_outcome: str
    submitted_at: dt.datetime
    updated_at: dt.datetime
    diverted_at: dt.datetime | None = None
    case_url: str = ""

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]


@dataclass(slots=True)
class SessionRow:
    """A session as a dashboard row shows it, with its case's and actions' addresses filled
    in by the view."""

    pk: int
    status: str
    session_number: int
    modality: str
    proposed_at: dt.datetime
    reference: str
    program_short_name: str
    clinician_name: str
    starts_at: dt.datetime
    case_url: str = ""
    resend_url: str = ""
    rematch_url: str = ""

    @property
    def status_label(self) -> str:
        return SESSION_LABELS[self.status]

    @property
    def modality_label(self) -> str:
        return MODALITY_LABELS[self.modality]


# The columns of each row, in its fields' order. Reading only these keeps a page from
# decrypting free text nobody sees there (two Fernet tokens a case).
CASE_COLUMNS = (
    "pk", "reference", "status", "program__short_name", "hold_reason", "unmatched_reason",
    "closed_outcome", "submitted_at", "updated_at",
)  # fmt: skip
SESSION_COLUMNS = (
    "pk", "status", "session_number", "modality", "proposed_at", "referral__reference",
    "referral__program__short_name", "clinician__display_name", "slot__starts_at",
)  # fmt: skip


def _cases(filters: QueueFilters) -> QuerySet[Referral]:
    return filters.referrals(Referral.objects.all())


def _sessions(filters: QueueFilters) -> QuerySet[Appointment]:
    return filters.referrals(Appointment.objects.all(), "referral__")


# Which rows each queue holds, as conditions, so the rows and the counts share one definition.
def _queue_conditions(now: dt.datetime) -> dict[str, Q]:
    upcoming_until = now + dt.timedelta(days=settings.STAFF_UPCOMING_DAYS)
    closed_since = now - dt.timedelta(days=settings.STAFF_RECENTLY_CLOSED_DAYS)
    return {
        "urgent": Q(status=R.DIVERTED, urgent_acknowledged_at__isnull=True),
        "held": Q(status=R.HELD) | Q(status=R.DIVERTED, urgent_acknowledged_at__isnull=False),
        "unmatched": Q(status=R.UNMATCHED),
        "closed": Q(status__in=(R.CLOSED, R.WITHDRAWN), updated_at__gte=closed_since),
        "awaiting": Q(status__in=(A.PROPOSED, A.TENTATIVE)),
        "upcoming": Q(
            status=A.ACCEPTED, slot__starts_at__gte=now, slot__starts_at__lt=upcoming_until
        ),
    }


CASE_QUEUES = ("urgent", "held", "unmatched", "closed")
SESSION_QUEUES = ("awaiting", "upcoming")


def urgent_cases(filters: QueueFilters, *, now: dt.datetime) -> QuerySet[Referral]:
    """Diverted cases nobody has acknowledged, oldest first."""
    cases = _cases(filters).filter(_queue_conditions(now)["urgent"])
    return with_diverted_at(cases).order_by("diverted_at", "pk")


def held_cases(filters: QueueFilters, *, now: dt.datetime) -> QuerySet[Referral]:
    """Cases waiting on a coordinator: held, or urgent and acknowledged but not yet moved on."""
    return _cases(filters).filter(_queue_conditions(now)["held"]).order_by("submitted_at", "pk")


def unmatched_cases(filters: QueueFilters, *, now: dt.datetime) -> QuerySet[Referral]:
    waiting = _queue_conditions(now)["unmatched"]
    return _cases(filters).filter(waiting).order_by("submitted_at", "pk")


def sessions_awaiting_clinician(
    filters: QueueFilters, *, now: dt.datetime
) -> QuerySet[Appointment]:
    """Invitations the clinician has not accepted or declined, oldest first."""
    waiting = _queue_conditions(now)["awaiting"]
    return _sessions(filters).filter(waiting).order_by("proposed_at", "pk")


def upcoming_sessions(filters: QueueFilters, *, now: dt.datetime) -> QuerySet[Appointment]:
    booked = _queue_conditions(now)["upcoming"]
    return _sessions(filters).filter(booked).order_by("slot__starts_at", "pk")


def recently_closed_cases(filters: QueueFilters, *, now: dt.datetime) -> QuerySet[Referral]:
    closed = _queue_conditions(now)["closed"]
    return _cases(filters).filter(closed).order_by("-updated_at", "-pk")


QUEUES = (
    ("urgent", "Urgent", "Diverted to crisis help and not yet acknowledged; oldest first."),
    ("held", "Held for a coordinator", "Held cases and acknowledged urgent cases."),
    ("unmatched", "Unmatched", "No clinician fitted; the matcher's reason is shown."),
    ("awaiting", "Awaiting clinician", "Invitations not yet answered; oldest first."),
    ("upcoming", "Upcoming sessions", "Booked sessions in the next days."),
    ("closed", "Recently closed", "Closed or withdrawn cases."),
)


def queue_querysets(filters: QueueFilters, *, now: dt.datetime) -> dict[str, QuerySet]:
    return {
        "urgent": urgent_cases(filters, now=now),
        "held": held_cases(filters, now=now),
        "unmatched": unmatched_cases(filters, now=now),
        "awaiting": sessions_awaiting_clinician(filters, now=now),
        "upcoming": upcoming_sessions(filters, now=now),
        "closed": recently_closed_cases(filters, now=now),
    }


def _rows(key: str, queryset: QuerySet) -> tuple[QuerySet, type]:
    """A queue's queryset as the values of its rows, and the row type they fill."""
    if key in SESSION_QUEUES:
        return queryset.values_list(*SESSION_COLUMNS), SessionRow
    columns = (*CASE_COLUMNS, "diverted_at") if key == "urgent" else CASE_COLUMNS
    return queryset.values_list(*columns), CaseRow


class _CountedPaginator(Paginator):
    """A paginator told its count, so it does not run a COUNT of its own."""

    def __init__(self, object_list, per_page, *, count: int) -> None:
        super().__init__(object_list, per_page)
        self.__dict__["count"] = count  # fills Paginator.count, a cached_property


def dashboard_queues(filters: QueueFilters, *, pages: dict[str, str]) -> list[Queue]:
    """Every queue, one page of rows each (CaseRow or SessionRow): the counts in two queries,
    then one query per queue's rows."""
    now = timezone.now()
    querysets = queue_querysets(filters, now=now)
    counts = _queue_counts(filters, now=now)
    queues = []
    for key, title, description in QUEUES:
        values, row = _rows(key, querysets[key])
        paginator = _CountedPaginator(values, settings.STAFF_PAGE_SIZE, count=counts[key])
        page = paginator.get_page(pages.get(key))
        page.object_list = [row(*columns) for columns in page.object_list]
        queues.append(Queue(key=key, title=title, description=description, page=page))
    return queues


def queue_counts(filters: QueueFilters) -> dict[str, int]:
    """How many cases each queue holds now: two queries (cases, then sessions)."""
    return _queue_counts(filters, now=timezone.now())


def _queue_counts(filters: QueueFilters, *, now: dt.datetime) -> dict[str, int]:
    """One query per table: each queue's count is a filtered aggregate over the rows any queue
    of that table holds."""
    conditions = _queue_conditions(now)
    counts = {}
    for queryset, prefix, keys in (
        (Referral.objects.all(), "", CASE_QUEUES),
        (Appointment.objects.all(), "referral__", SESSION_QUEUES),
    ):
        held_somewhere = Q()
        for key in keys:
            held_somewhere |= conditions[key]
        counts |= filters.referrals(queryset.filter(held_somewhere), prefix).aggregate(
            **{key: Count("pk", filter=conditions[key]) for key in keys}
        )
    return counts


# The case page


@dataclass(frozen=True)
class TimelineItem:
    occurred_at: dt.datetime
    category: str
    summary: str
    actor: str
    detail: str = ""


@dataclass
class CaseDetail:
    referral: Referral
    appointments: list[Appointment]
    sessions_counted: int
    timeline: list[TimelineItem] = field(default_factory=list)

    @property
    def live_appointments(self) -> list[Appointment]:
        return [a for a in self.appointments if a.status in Appointment.LIVE_STATUSES]

    @property
    def is_finished(self) -> bool:
        return self.referral.status in (R.CLOSED, R.WITHDRAWN)

    @property
    def can_send_to_matcher(self) -> bool:
        referral = self.referral
        if referral.status == R.DIVERTED:
            return referral.urgent_acknowledged_at is not None
        return referral.status in (R.NEW, R.UNMATCHED, R.HELD)


def case_referral(reference: str) -> QuerySet[Referral]:
    """The case with everything its page shows, in one query."""
    return Referral.objects.select_related(
        "program",
        "episode",
        "workplace_district",
        "employer_district",
        "workplace_facility",
        "urgent_acknowledged_by",
        "triage",
    ).filter(reference=reference)


def case_detail(referral: Referral) -> CaseDetail:
    appointments = list(
        referral.appointments.select_related("slot", "clinician").order_by("proposed_at", "pk")
    )
    detail = CaseDetail(
        referral=referral,
        appointments=appointments,
        sessions_counted=sessions_counted(referral),
    )
    detail.timeline = case_timeline(referral, appointments)
    return detail


def _name(user: AbstractBaseUser | None, fallback: str) -> str:
    if user is None:
        return fallback
    return user.get_full_name() or user.get_username()


def _session_label(appointment: Appointment) -> str:
    starts_at = dateformat.format(timezone.localtime(appointment.slot.starts_at), "D j M Y H:i")
    clinician = appointment.clinician.display_name
    return f"Session {appointment.session_number} with {clinician}, {starts_at}"


def case_timeline(referral: Referral, appointments: list[Appointment]) -> list[TimelineItem]:
    """Every status change of the case and its sessions, staff activity, acknowledgement,
    messages and each recorded look at its sensitive fields, oldest first."""
    items = [*_status_items(referral), *_session_items(appointments), *_activity_items(referral)]
    items += _view_items(referral) + case_messages(referral)
    if referral.urgent_acknowledged_at:
        items.append(
            TimelineItem(
                referral.urgent_acknowledged_at,
                "activity",
                "Urgent case acknowledged",
                _name(referral.urgent_acknowledged_by, "coordinator"),
                referral.urgent_acknowledgement_note,
            )
        )
    return sorted(items, key=lambda item: item.occurred_at)


def _status_items(referral: Referral) -> list[TimelineItem]:
    events = ReferralEvent.objects.filter(referral=referral).select_related("actor")
    return [
        TimelineItem(
            event.occurred_at,
            "status",
            (
                f"{STATUS_LABELS.get(event.from_status, 'Created')} → "
                f"{STATUS_LABELS.get(event.to_status, event.to_status)}"
            ),
            _name(event.actor, event.actor_label),
            event.reason,
        )
        for event in events
    ]


def _session_items(appointments: list[Appointment]) -> list[TimelineItem]:
    by_id = {a.pk: a for a in appointments}
    events = AppointmentEvent.objects.filter(appointment__in=by_id).select_related("actor")
    return [
        TimelineItem(
            event.occurred_at,
            "session",
            (
                f"{_session_label(by_id[event.appointment_id])}: "
                f"{SESSION_LABELS.get(event.to_status, event.to_status).lower()}"
            ),
            _name(event.actor, event.actor_label),
            event.reason,
        )
        for event in events
    ]


def _activity_items(referral: Referral) -> list[TimelineItem]:
    activities = CaseActivity.objects.filter(referral=referral).select_related("actor")
    return [
        TimelineItem(
            activity.occurred_at,
            "activity",
            activity.get_kind_display(),
            _name(activity.actor, "coordinator"),
            activity.text,
        )
        for activity in activities
    ]


def _view_items(referral: Referral) -> list[TimelineItem]:
    entries = audit_entries_for(obj=referral).filter(action=AuditEntry.Action.VIEW)
    return [
        TimelineItem(entry.occurred_at, "view", entry.detail.capitalize(), entry.actor_label)
        for entry in entries
    ]


def case_messages(referral: Referral) -> list[TimelineItem]:
    """Messages sent about the case and calendar replies received, for the timeline (two
    queries; no message bodies are read)."""
    items = [
        TimelineItem(
            occurred_at=message.sent_at or message.created_at,
            category="message",
            summary=f"{message.get_kind_display()}: {message.get_status_display().lower()}",
            actor="system",
            detail=message.last_error,
        )
        for message in messages_for_referral(referral_id=referral.pk)
    ]
    items += [
        TimelineItem(
            occurred_at=reply.created_at,
            category="message",
            summary=f"Calendar reply ({reply.partstat or reply.method or 'unreadable'}): "
            f"{reply.get_outcome_display().lower()}",
            actor="clinician's calendar",
            detail=reply.reason,
        )
        for reply in replies_for_referral(referral_id=referral.pk)
    ]
    return items


def explanation_lines(explanation: object) -> list[tuple[str, str]]:
    """The matcher's explanation (any JSON) as (label, text) lines a person can read."""
    if not isinstance(explanation, dict):
        return [("Explanation", str(explanation))] if explanation else []
    lines = []
    for key, value in explanation.items():
        label = str(key).replace("_", " ").capitalize()
        lines.append((label, _explanation_text(value)))
    return lines


def _explanation_text(value: object) -> str:
    if isinstance(value, dict):
        if "message" in value:
            return str(value["message"])
        return "; ".join(f"{k.replace('_', ' ')}: {_explanation_text(v)}" for k, v in value.items())
    if isinstance(value, list):
        return "; ".join(_explanation_text(v) for v in value) or "none"
    return str(value)


# Clinicians


@dataclass(frozen=True)
class WeekCell:
    slot: Slot
    state: str
    label: str
    appointment: Appointment | None = None


@dataclass
class WeekGrid:
    clinician: Clinician
    starts_on: dt.date
    days: list[dt.date]
    rows: list[tuple[str, list[list[WeekCell]]]]
    time_off: list[TimeOff]

    @property
    def previous_on(self) -> dt.date:
        return self.starts_on - dt.timedelta(days=7)

    @property
    def next_on(self) -> dt.date:
        return self.starts_on + dt.timedelta(days=7)


SHOWN_STATUSES = (*Appointment.LIVE_STATUSES, A.COMPLETED, A.NO_SHOW)
CELL_STATES = {
    A.PROPOSED: ("proposed", "Proposed"),
    A.TENTATIVE: ("proposed", "Tentative"),
    A.ACCEPTED: ("booked", "Booked"),
    A.COMPLETED: ("done", "Completed"),
    A.NO_SHOW: ("done", "Did not attend"),
}


def clinician_week(clinician: Clinician, starts_on: dt.date) -> WeekGrid:
    """The clinician's slots for the week from `starts_on` (a Monday) in their own zone, each
    marked open, proposed, booked or done, plus their leave that week. Three queries."""
    zone = ZoneInfo(clinician.time_zone)
    week_start = dt.datetime.combine(starts_on, dt.time(0), tzinfo=zone)
    week_end = dt.datetime.combine(starts_on + dt.timedelta(days=7), dt.time(0), tzinfo=zone)
    shown = Appointment.objects.filter(status__in=SHOWN_STATUSES).select_related("referral")
    slots = (
        Slot.objects.filter(clinician=clinician, starts_at__gte=week_start, starts_at__lt=week_end)
        .prefetch_related(Prefetch("appointments", queryset=shown, to_attr="shown"))
        .order_by("starts_at")
    )
    days = [starts_on + dt.timedelta(days=i) for i in range(7)]
    grid: dict[str, list[list[WeekCell]]] = {}
    for slot in slots:
        local = slot.starts_at.astimezone(zone)
        row = grid.setdefault(f"{local:%H:%M}", [[] for _ in days])
        row[(local.date() - starts_on).days].append(_week_cell(slot))
    time_off = list(
        TimeOff.objects.filter(clinician=clinician, starts_at__lt=week_end, ends_at__gt=week_start)
    )
    return WeekGrid(clinician, starts_on, days, sorted(grid.items()), time_off)


def _week_cell(slot: Slot) -> WeekCell:
    if slot.shown:
        appointment = slot.shown[0]
        state, label = CELL_STATES[appointment.status]
        return WeekCell(slot, state, label, appointment)
    if not slot.is_offered:
        return WeekCell(slot, "withdrawn", "Not offered")
    return WeekCell(slot, "open", "Open")


def sessions_to_move(clinician: Clinician) -> QuerySet[Appointment]:
    """A clinician's booked sessions still to come, for a coordinator to move elsewhere."""
    return (
        Appointment.objects.filter(
            clinician=clinician, status=A.ACCEPTED, slot__starts_at__gte=timezone.now()
        )
        .select_related("referral", "slot")
        .order_by("slot__starts_at")
    )
