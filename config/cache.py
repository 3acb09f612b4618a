"""Django's Redis cache, keeping one client per connection pool, and a fixed-window counter.

Django's client makes a new redis.Redis for every cache call, and building one fills its
table of some 170 response callbacks: about 0.4 ms each time, and a submission makes four
cache calls. A redis.Redis is safe to share (each command borrows a pooled connection), and
Django keeps one cache object per thread anyway.
"""

from django.core.cache import BaseCache, caches
from django.core.cache.backends.redis import RedisCache, RedisCacheClient


class _KeptClientRedisCacheClient(RedisCacheClient):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class KeptClientRedisCache(RedisCache):
    def __init__(self, server, params) -> None:
        super().__init__(server, params)
        self._class = _KeptClientRedisCacheClient


# INCR, and on the first event the key's expiry: atomic, one command, on any Redis.
_WINDOW_COUNT_SCRIPT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return count
"""


def window_count(key: str, *, timeout: int, cache: BaseCache | None = None) -> int:
    """Count one event under `key`, which lasts `timeout` seconds from its first event, and
    return the count so far (1 for the first). On Redis one round trip, a small script: add
    then incr is three (Django's incr checks that the key exists first), and took 0.25 ms of
    CPU where this takes 0.09 ms (a redis-py pipeline of SET NX and INCR: 0.11 ms). On other
    caches add then incr; a key that expires between the two counts as a first event."""
    cache = cache or caches["default"]  # the backend itself: `cache` is a proxy
    if isinstance(cache, RedisCache):
        name = cache.make_and_validate_key(key)
        client = cache._cache.get_client(name, write=True)
        return int(client.eval(_WINDOW_COUNT_SCRIPT, 1, name, timeout))
    cache.add(key, 0, timeout=timeout)
    try:
        return cache.incr(key)
    except ValueError:
        return 1
