"""The Redis cache backend that keeps one client per connection pool."""

import threading
import uuid

import pytest

from config.cache import KeptClientRedisCache

pytestmark = pytest.mark.services


@pytest.fixture
def redis_cache(redis_url):
    cache = KeptClientRedisCache(redis_url, {"KEY_PREFIX": f"test-{uuid.uuid4().hex}"})
    yield cache
    cache.delete_many(["lock", "count"])  # clear() would empty the broker's database too


def test_values_set_by_one_thread_are_read_by_others(redis_cache):
    assert redis_cache.add("lock", "first", timeout=30)
    assert not redis_cache.add("lock", "second", timeout=30)
    seen = []
    readers = [threading.Thread(target=lambda: seen.append(redis_cache.get("lock"))) for _ in "ab"]
    for reader in readers:
        reader.start()
    for reader in readers:
        reader.join()
    assert seen == ["first", "first"]
    redis_cache.delete("lock")
    assert redis_cache.get("lock", "gone") == "gone"


def test_every_call_uses_the_same_client(redis_cache):
    redis_cache.set("count", 1, timeout=30)
    assert redis_cache.incr("count") == 2
    client = redis_cache._cache.get_client(write=True)
    assert redis_cache._cache.get_client() is client
    assert redis_cache._cache.get_client(write=True) is client


def test_a_window_counter_counts_from_one_and_expires_with_its_window(redis_cache):
    from config.cache import window_count

    assert [window_count("count", timeout=30, cache=redis_cache) for _ in range(3)] == [1, 2, 3]
    client = redis_cache._cache.get_client(write=True)
    assert 0 < client.ttl(redis_cache.make_and_validate_key("count")) <= 30


def test_a_window_counter_is_one_round_trip(redis_cache):
    from unittest import mock

    from redis.connection import AbstractConnection

    from config.cache import window_count

    redis_cache.set("lock", 1, timeout=30)  # the connection is open and set up
    send = AbstractConnection.send_packed_command
    with mock.patch.object(
        AbstractConnection, "send_packed_command", autospec=True, side_effect=send
    ) as sent:
        assert window_count("count", timeout=30, cache=redis_cache) == 1
        assert window_count("count", timeout=30, cache=redis_cache) == 2
    assert sent.call_count == 2  # one command for each count


def test_the_default_cache_counts_in_one_round_trip_too(redis_url):
    from unittest import mock

    from django.test import override_settings
    from redis.connection import AbstractConnection

    from config.cache import window_count

    prefix = f"test-{uuid.uuid4().hex}"
    backend = {"BACKEND": "config.cache.KeptClientRedisCache", "LOCATION": redis_url}
    with override_settings(CACHES={"default": {**backend, "KEY_PREFIX": prefix}}):
        from django.core.cache import cache

        cache.set("lock", 1, timeout=30)  # the connection is open and set up
        send = AbstractConnection.send_packed_command
        with mock.patch.object(
            AbstractConnection, "send_packed_command", autospec=True, side_effect=send
        ) as sent:
            assert window_count("count", timeout=30) == 1
        assert sent.call_count == 1
        cache.delete_many(["lock", "count"])
