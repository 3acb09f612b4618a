"""config/collector.py: the cyclic garbage collector paused for a block, and restored after."""

import gc

import pytest

from config.collector import collector_paused


@pytest.fixture
def collector_running():
    was_enabled = gc.isenabled()
    gc.enable()
    yield
    if not was_enabled:
        gc.disable()


def test_the_collector_is_paused_inside_and_running_again_after(collector_running):
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_an_error_inside_still_restarts_the_collector(collector_running):
    with pytest.raises(ValueError), collector_paused():
        raise ValueError("the block failed")
    assert gc.isenabled()


def test_a_collector_paused_by_someone_else_stays_paused(collector_running):
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_nested_pauses_restart_the_collector_only_when_the_outer_one_ends(collector_running):
    with collector_paused():
        with collector_paused():
            pass
        assert not gc.isenabled()
    assert gc.isenabled()


def test_it_works_as_a_decorator(collector_running):
    @collector_paused()
    def inside() -> bool:
        return gc.isenabled()

    assert inside() is False
    assert gc.isenabled()
