"""`core.collector.collection_paused`, every pause of the process (an import's batch, a
slip's render): the cyclic garbage collector is off inside, back on after, however the
block ends, and only once the last of several blocks (nested or in threads) has ended;
it stays off after if it was off before.

Written before it ran: each case below states the collector's state expected at each
point."""

from __future__ import annotations

import gc
import threading

import pytest

from core.collector import collection_paused


@pytest.fixture(autouse=True)
def _collector_restored():
    was = gc.isenabled()
    yield
    if was:
        gc.enable()
    else:
        gc.disable()


def test_off_inside_and_back_on_after_even_on_an_exception() -> None:
    gc.enable()
    with collection_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), collection_paused():
        raise RuntimeError("a batch that fails")
    assert gc.isenabled()


def test_nested_blocks_and_a_decorated_function() -> None:
    gc.enable()

    @collection_paused()
    def inner() -> bool:
        return gc.isenabled()

    with collection_paused():
        assert inner() is False
        assert not gc.isenabled()  # the inner block's end did not turn it back on
    assert gc.isenabled()
    assert inner() is False
    assert gc.isenabled()


def test_left_off_when_it_was_off_before() -> None:
    gc.disable()
    with collection_paused():
        pass
    assert not gc.isenabled()


def test_threads_overlapping_turn_it_on_only_when_the_last_ends() -> None:
    gc.enable()
    first_in, second_in, first_may_leave, first_left = (threading.Event() for _ in range(4))
    seen: dict[str, bool] = {}

    def first() -> None:
        with collection_paused():
            first_in.set()
            first_may_leave.wait(5)
        first_left.set()

    def second() -> None:
        first_in.wait(5)
        with collection_paused():
            second_in.set()
            first_left.wait(5)
            seen["after the first left"] = gc.isenabled()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    second_in.wait(5)
    first_may_leave.set()
    for t in threads:
        t.join(10)
    assert seen == {"after the first left": False}
    assert gc.isenabled()


_FINALIZER_PAUSES = """
import gc
from core.collector import collection_paused

@collection_paused()
def tidy():  # a cleanup that reads or writes a batch
    pass

class Holder:
    def __del__(self):
        tidy()

gc.enable()
with collection_paused():
    a = Holder(); a.me = a  # a cycle: only the cyclic collector frees it
    del a
print("ok")
"""


def test_a_finalizer_that_pauses_again_does_not_hang_the_end_of_a_pause() -> None:
    """Found in review: the collection at the end of a pause ran while holding the
    pause's lock, and a finalizer it ran that pauses again waited on it for ever."""
    import subprocess
    import sys

    try:
        done = subprocess.run(
            [sys.executable, "-c", _FINALIZER_PAUSES],
            capture_output=True,
            text=True,
            timeout=60,
        )
    except subprocess.TimeoutExpired:
        raise AssertionError("the end of collection_paused deadlocked") from None
    assert done.stdout.strip() == "ok", done.stderr


def test_the_oldest_sweep_asked_is_done_when_the_last_block_ends() -> None:
    """A slip's render asks for the young two generations to be swept, an import's
    batch for the youngest: both inside one another, the render's is done, once, when
    the outer block ends (and not when the inner one does)."""
    gc.enable()
    gc.collect()
    with collection_paused():
        with collection_paused(sweep=1):
            pass
        junk: list[list[int]] = [[] for _ in range(2000)]
        del junk
        assert not gc.isenabled()
    assert gc.isenabled()
    assert gc.get_count()[1] == 0  # generation 1 was collected at the end
