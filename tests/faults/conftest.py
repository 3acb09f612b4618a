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


@pytest.fixture
def private_postgres():
    """A PostgreSQL cluster of the test's own, started; stopped and deleted after."""
    from tests.faults.harness import PrivatePostgres

    cluster = PrivatePostgres()
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        cluster.remove()
