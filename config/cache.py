"""Django's Redis cache, keeping one client per connection pool.

Django's client makes a new redis.Redis for every cache call, and building one fills its
table of some 170 response callbacks: about 0.4 ms each time, and a submission makes four
cache calls. A redis.Redis is safe to share (each command borrows a pooled connection), and
Django keeps one cache object per thread anyway.
"""

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
