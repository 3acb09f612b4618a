# The same fresh rate-limit counters and reference data as the wizard's own tests.
from tests.referrals.conftest import _fresh_cache, reference_data  # noqa: F401
