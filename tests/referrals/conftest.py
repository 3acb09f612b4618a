import pytest
from django.core.cache import cache

from referrals.models import District, Facility, Program
from referrals.reference_data import reference_data_load


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate-limit counters live in the cache; each test starts with none."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def reference_data(db):
    """The programs, districts and facilities the data migration loads."""
    if not Program.objects.filter(code="dup").exists():
        reference_data_load(program_model=Program, district_model=District, facility_model=Facility)
