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
