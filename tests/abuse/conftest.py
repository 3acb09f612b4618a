import pytest
from django.core.cache import cache

from tests.referrals.factories import reference_data_ensure


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate-limit counters live in the cache; each test starts with none."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def reference_data(db):
    reference_data_ensure()
