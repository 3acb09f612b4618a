from django.test import RequestFactory, override_settings

from config.client_ip import client_ip_address, client_log_label


def _request(remote="10.0.0.2", forwarded=None):
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **extra)


def test_without_a_trusted_proxy_only_the_socket_address_counts():
    assert client_ip_address(_request(forwarded="203.0.113.9")) == "10.0.0.2"


@override_settings(TRUSTED_PROXY_COUNT=1)
def test_behind_one_proxy_the_entry_it_appended_is_the_client():
    assert client_ip_address(_request(forwarded="1.2.3.4, 203.0.113.9")) == "203.0.113.9"


@override_settings(TRUSTED_PROXY_COUNT=2)
def test_behind_two_proxies_the_client_is_second_from_the_right():
    request = _request(forwarded="6.6.6.6, 203.0.113.9, 10.0.0.1")
    assert client_ip_address(request) == "203.0.113.9"


@override_settings(TRUSTED_PROXY_COUNT=2)
def test_a_request_that_skipped_the_outer_proxy_counts_what_the_inner_one_saw():
    assert client_ip_address(_request(forwarded="198.51.100.7")) == "198.51.100.7"


@override_settings(TRUSTED_PROXY_COUNT=1)
def test_a_garbled_forwarded_header_falls_back_to_the_socket():
    assert client_ip_address(_request(forwarded="not-an-address")) == "10.0.0.2"
    assert client_ip_address(_request(forwarded="")) == "10.0.0.2"


def test_the_log_label_names_neither_the_person_nor_the_address():
    label = client_log_label("casey.coordinator", "203.0.113.9", "agent", "/staff/sign-in/", None)
    assert "casey" not in label
    assert "203.0.113.9" not in label
    assert label == client_log_label(
        "casey.coordinator", "203.0.113.9", "x", "/staff/sign-in/", None
    )
