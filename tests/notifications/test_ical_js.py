"""Our invitations, cancellations and feeds as ical.js (Thunderbird's parser) reads them.

Needs `npm ci --prefix tests/js` once; without it the tests skip on a laptop and fail in CI.
"""

import datetime as dt
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from notifications import services
from tests.conftest import IS_CI
from tests.notifications.factories import proposed_appointment

JS_DIR = Path(__file__).resolve().parent.parent / "js"


@pytest.fixture(scope="session")
def ical_js():
    node = shutil.which("node")
    if not node or not (JS_DIR / "node_modules" / "ical.js").is_dir():
        message = "ical.js is not installed: run `npm ci --prefix tests/js`"
        if IS_CI:
            pytest.fail(message)
        pytest.skip(message)

    def parse(paths: list[Path]) -> list[dict]:
        completed = subprocess.run(
            [node, str(JS_DIR / "parse.mjs"), *map(str, paths)],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return [json.loads(line) for line in completed.stdout.splitlines()]

    return parse


@pytest.mark.django_db
def test_invitation_update_cancel_and_feed_parse_in_ical_js(ical_js, tmp_path):
    appointment = proposed_appointment()
    for change in ("proposed", "accepted", "rescheduled", "cancelled"):
        services.appointment_notify(appointment_id=appointment.pk, change=change)
    accepted = proposed_appointment(status="accepted")
    files = []
    for message in appointment.messages.order_by("pk"):
        path = tmp_path / f"{message.pk}-{message.kind}.ics"
        path.write_text(message.ical_text, newline="")
        files.append(path)
    feed = tmp_path / "feed.ics"
    feed.write_text(services.feed_render(accepted.clinician), newline="")
    results = ical_js([*files, feed])

    assert [r.get("error") for r in results] == [None] * len(results)
    by_method = [(r["method"], r["events"][0]["sequence"]) for r in results[:-1]]
    assert ("REQUEST", 0) in by_method and ("CANCEL", 2) in by_method
    invitation = results[0]["events"][0]
    assert invitation["uid"] == appointment.ical_uid
    assert invitation["organizer"] == "mailto:calendar@soundingboard.test"
    assert invitation["attendees"] == [
        {
            "value": f"mailto:{appointment.clinician.calendar_email}",
            "partstat": "NEEDS-ACTION",
            "rsvp": "TRUE",
        }
    ]
    assert invitation["tzid"] == "Australia/Sydney"
    starts_at = dt.datetime.fromisoformat(invitation["start"].replace("Z", "+00:00"))
    assert starts_at == appointment.slot.starts_at
    [feed_result] = results[-1:]
    assert feed_result["method"] == "PUBLISH"
    assert feed_result["events"][0]["organizer"] is None
    assert feed_result["events"][0]["attendees"] == []
