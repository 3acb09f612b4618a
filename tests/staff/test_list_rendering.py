"""The shortcuts that keep long staff lists cheap show exactly what Django's own tags would."""

import datetime as dt
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from django.template import Context, Template
from django.urls import reverse
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from staff.selectors import CaseRow, SessionRow
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
