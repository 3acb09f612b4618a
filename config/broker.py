"""kombu's Redis transport, publishing through one Redis client per channel.

kombu builds a new redis-py client for every message it publishes, and building one (its
table of some 170 reply parsers) cost more CPU than sending the message: a third of a task's
publish. The client is kept for as long as the channel keeps its connection pool; redis-py
clients are safe to share, each command taking a connection from the pool. Everything else,
consuming included, is kombu's own."""

from kombu.transport import redis


class Channel(redis.Channel):
    _kept_client = None

    def _create_client(self, asynchronous=False):
        if asynchronous:
            return super()._create_client(asynchronous=True)
        pool = self.pool
        if self._kept_client is None or self._kept_client[0] is not pool:
            self._kept_client = (pool, super()._create_client())
        return self._kept_client[1]


class Transport(redis.Transport):
    Channel = Channel
