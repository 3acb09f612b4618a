"""The fixed-window counter on the embedded default cache (locmem)."""

from django.core.cache.backends.locmem import LocMemCache

from config.cache import window_count


def test_a_window_counter_counts_from_one_on_the_local_memory_cache():
    cache = LocMemCache("window-count-test", {})
    assert [window_count("count", timeout=30, cache=cache) for _ in range(3)] == [1, 2, 3]
    assert window_count("other", timeout=30, cache=cache) == 1
