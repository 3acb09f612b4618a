import pytest

from tests.faults.harness import PrivateRedis


@pytest.fixture
def private_redis(tmp_path):
    """A redis-server of the test's own (the shared one is never stopped); gone after."""
    redis = PrivateRedis(tmp_path)
    redis.start()
    try:
        yield redis
    finally:
        redis.stop()
