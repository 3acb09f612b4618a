"""The pages a person sees when something fails on our side: no traceback, and a 503 "try again"
page while the database cannot be reached (the PostgreSQL restart fault test drives the real
thing: tests/faults/test_postgres_restart.py)."""

import pytest
from django.db import OperationalError, connection
from django.test import Client


def _every_query_fails(error: Exception):
    def fail(execute, sql, params, many, context):
        raise error

    return connection.execute_wrapper(fail)


@pytest.mark.django_db
def test_a_database_that_cannot_be_reached_gives_the_try_again_page(settings):
    settings.SERVICE_UNAVAILABLE_RETRY_AFTER_SECONDS = 45
    with _every_query_fails(OperationalError("server closed the connection unexpectedly")):
        response = Client(raise_request_exception=False).get("/refer/service/")
    page = response.content.decode()
    assert response.status_code == 503
    assert response["Retry-After"] == "45"
    assert "Please try again in a minute" in page
    assert "13 11 14" in page  # the crisis lines are still there
    assert "Traceback" not in page and "OperationalError" not in page


@pytest.mark.django_db
def test_any_other_failure_gives_the_plain_error_page():
    with _every_query_fails(ValueError("a bug")):
        response = Client(raise_request_exception=False).get("/refer/service/")
    page = response.content.decode()
    assert response.status_code == 500
    assert "Something went wrong on our side" in page
    assert "Traceback" not in page and "a bug" not in page
