import pytest
from django.urls import reverse

from tests.staff.factories import PASSWORD, current_code, staff_user, totp_device


def _password_step(client, username, password=PASSWORD, next_url="/coordinate/"):
    return client.post(
        reverse("staff:sign_in"), {"username": username, "password": password, "next": next_url}
    )


@pytest.mark.django_db
def test_a_right_password_alone_does_not_sign_anyone_in(client):
    user = staff_user("coordinator")
    totp_device(user)
    response = _password_step(client, user.username)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("staff:verify"))
    assert client.get("/coordinate/").status_code == 302
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_a_coordinator_signs_in_with_password_and_the_code_from_their_app(client):
    user = staff_user("coordinator")
    device = totp_device(user)
    _password_step(client, user.username)
    response = client.post(
        reverse("staff:verify"), {"token": current_code(device), "next": "/coordinate/"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/coordinate/"
    assert client.get("/coordinate/").status_code == 200
