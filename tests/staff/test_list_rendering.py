"""The shortcuts that keep long staff lists cheap show exactly what Django's own tags would."""

import datetime as dt
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.paginator import Paginator
from django.template import Context, Template
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st

from referrals.models import Referral
from scheduling.models import Appointment, Modality
from staff.selectors import CASE_QUEUES, SESSION_QUEUES, CaseRow, Queue, SessionRow
from staff.views.links import case_links, session_links

references = st.one_of(
    st.text("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789", min_size=1, max_size=12),
    # Never a real reference, but the addresses must still be right: reverse() quotes these.
    st.text(min_size=1, max_size=12).filter(lambda text: "/" not in text),
)
ids = st.integers(min_value=1, max_value=2**31 - 1)


@given(reference=references, pk=ids)
def test_each_row_links_where_reverse_would(reference, pk):
    now = timezone.now()
    referral = CaseRow(pk, reference, "held", "DUP", "", "", "", now, now)
    session = SessionRow(pk, "proposed", 1, "phone", now, reference, "DUP", "Dr A", now)
    case_links([referral, session])
    case_url = reverse("coordinate:case", args=[reference])
    assert referral.case_url == session.case_url == case_url
    assert session.resend_url == reverse("coordinate:appointment_resend", args=[reference, pk])
    assert session.rematch_url == reverse("coordinate:appointment_rematch", args=[reference, pk])
    on_its_case_page = SimpleNamespace(pk=pk)
    session_links([on_its_case_page], reference=reference)
    assert on_its_case_page.resend_url == session.resend_url
    assert on_its_case_page.rematch_url == session.rematch_url


BOTH_WAYS = Template('{% load staff_dates %}{{ when|day_and_time }}|{{ when|date:"D j M, H:i" }}')


@given(
    when=st.datetimes(
        min_value=dt.datetime(2000, 1, 1),
        max_value=dt.datetime(2100, 1, 1),
        timezones=st.just(dt.UTC),
    ),
    zone=st.sampled_from(["Australia/Sydney", "Australia/Perth", "Australia/Lord_Howe", "UTC"]),
)
def test_a_listed_time_reads_as_djangos_date_filter_writes_it(when, zone):
    with timezone.override(ZoneInfo(zone)):
        ours, djangos = BOTH_WAYS.render(Context({"when": when})).split("|")
    assert ours == djangos


def test_no_time_shows_nothing():
    assert BOTH_WAYS.render(Context({"when": None})) == "|"


# The dashboard's rows as its template wrote them before they were built in Python, and a
# session's forms as `_session_actions.html` wrote them: what `queue_rows` must reproduce.
SESSION_ACTIONS_AS_TEMPLATE = """<div class="actions">
  <form class="inline-form" method="post" action="{{ row.resend_url }}">{% csrf_token %}
    <input type="hidden" name="next" value="{{ request.get_full_path }}">
    <button type="submit" class="secondary">Re-send<span class="visually-hidden"> invitation for {{ reference }}</span></button>
  </form>
  <form class="inline-form" method="post" action="{{ row.rematch_url }}">{% csrf_token %}
    <input type="hidden" name="next" value="{{ request.get_full_path }}">
    <button type="submit" class="secondary">Re-match<span class="visually-hidden"> {{ reference }}</span></button>
  </form>
</div>
"""  # noqa: E501
CASE_CELLS = (
    '<td><a href="{{ row.case_url }}">{{ row.reference }}</a></td>'
    "<td>{{ row.program_short_name }}</td>"
)
SESSION_CELLS = (
    CASE_CELLS + "<td>{{ row.clinician_name }}</td><td>{{ row.starts_at|day_and_time }}</td>"
)
ROWS_AS_TEMPLATE = {
    "urgent": CASE_CELLS
    + "<td>{{ row.diverted_at|timesince }}</td><td>{{ row.diverted_at|day_and_time }}</td>"
    '<td><a href="{{ row.case_url }}#acknowledge">'
    'Acknowledge<span class="visually-hidden"> {{ row.reference }}</span></a></td>',
    "held": CASE_CELLS + "<td>{{ row.status_label }}</td>"
    '<td>{% if row.status == "diverted" %}Urgent, acknowledged'
    '{% else %}{{ row.hold_reason|default:"—" }}{% endif %}</td>'
    "<td>{{ row.submitted_at|day_and_time }}</td>",
    "unmatched": CASE_CELLS + '<td>{{ row.unmatched_reason|default:"No reason recorded" }}</td>'
    "<td>{{ row.submitted_at|timesince }}</td>",
    "awaiting": SESSION_CELLS
    + "<td>{{ row.proposed_at|timesince }} ago</td><td>{{ row.status_label }}</td>"
    "<td>{% with reference=row.reference %}" + SESSION_ACTIONS_AS_TEMPLATE + "{% endwith %}</td>",
    "upcoming": SESSION_CELLS
    + "<td>{{ row.session_number }} ({{ row.modality_label|lower }})</td>",
    "closed": CASE_CELLS
    + '<td>{{ row.status_label }}</td><td>{{ row.closed_outcome|default:"—" }}</td>'
    "<td>{{ row.updated_at|day_and_time }}</td>",
}
TEMPLATE_ENGINE_ROWS = {
    key: Template(
        "{% load staff_dates %}<tbody>{% for row in queue.page %}\n        <tr>"
        + cells
        + "</tr>\n      {% endfor %}</tbody>"
    )
    for key, cells in ROWS_AS_TEMPLATE.items()
}
PYTHON_ROWS = Template("{% load staff_rows %}<tbody>{% queue_rows queue %}</tbody>")

texts = st.text(st.one_of(st.sampled_from("<>&\"' —"), st.characters(codec="utf-8")), max_size=16)
times = st.datetimes(
    min_value=dt.datetime(2020, 1, 1), max_value=dt.datetime(2030, 1, 1), timezones=st.just(dt.UTC)
)
NOW = dt.datetime(2026, 3, 1, 9, 30, tzinfo=dt.UTC)
case_rows = st.builds(
    CaseRow,
    pk=ids,
    reference=texts,
    status=st.sampled_from(Referral.Status.values),
    program_short_name=texts,
    hold_reason=texts,
    unmatched_reason=texts,
    closed_outcome=texts,
    submitted_at=times,
    updated_at=times,
    diverted_at=times,
    case_url=texts,
)
session_rows = st.builds(
    SessionRow,
    pk=ids,
    status=st.sampled_from(Appointment.Status.values),
    session_number=st.integers(min_value=1, max_value=99),
    modality=st.sampled_from(Modality.values),
    proposed_at=times,
    reference=texts,
    program_short_name=texts,
    clinician_name=texts,
    starts_at=times,
    case_url=texts,
    resend_url=texts,
    rematch_url=texts,
)


def _page_context(key: str, rows: list) -> Context:
    page = Paginator(rows, 20).get_page(1)
    request = RequestFactory().get("/coordinate/", {"reference": '<a href="x">&'})
    queue = Queue(key, "Title", "Description", page)
    return Context({"queue": queue, "request": request, "csrf_token": "t0k3n"})


@pytest.mark.parametrize("key", [*CASE_QUEUES, *SESSION_QUEUES])
@settings(deadline=None)
@given(data=st.data(), zone=st.sampled_from(["Australia/Perth", "Australia/Lord_Howe", "UTC"]))
def test_a_queues_rows_read_as_the_template_engine_wrote_them(key, data, zone):
    rows = data.draw(
        st.lists(case_rows if key in CASE_QUEUES else session_rows, min_size=1, max_size=3)
    )
    context = _page_context(key, rows)
    with time_machine.travel(NOW, tick=False), timezone.override(ZoneInfo(zone)):
        ours = PYTHON_ROWS.render(context)
        djangos = TEMPLATE_ENGINE_ROWS[key].render(context)
    assert ours == djangos


def test_a_script_in_a_reason_is_shown_not_run():
    row = CaseRow(1, "B1", "held", "DUP", "<script>alert(1)</script>", "", "", NOW, NOW)
    html = PYTHON_ROWS.render(_page_context("held", [row]))
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


CASE_PAGE_ACTIONS = Template("{% load staff_rows %}{% session_actions row reference %}")
CASE_PAGE_ACTIONS_AS_TEMPLATE = Template(SESSION_ACTIONS_AS_TEMPLATE)


@given(reference=texts, resend_url=texts, rematch_url=texts)
def test_a_sessions_forms_on_its_case_page_read_as_the_template_engine_wrote_them(
    reference, resend_url, rematch_url
):
    session = SimpleNamespace(resend_url=resend_url, rematch_url=rematch_url)
    context = _page_context("awaiting", [])
    context.update({"row": session, "reference": reference})
    assert CASE_PAGE_ACTIONS.render(context) == CASE_PAGE_ACTIONS_AS_TEMPLATE.render(context)
