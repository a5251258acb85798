"""At most N requests at a time per caller: slots per name on the configured store
(Redis when REDIS_URL is set, this process otherwise), given back when the work ends,
and still counted, per process, while Redis is unreachable."""

from __future__ import annotations

import uuid
from contextlib import ExitStack

import pytest

from core.concurrency import Busy, LocalSlots, RedisSlots, concurrency_slot


def test_a_name_has_at_most_its_limit_of_slots_until_one_is_given_back() -> None:
    name = f"test:{uuid.uuid4()}"  # Redis outlives the test: a name of its own
    with ExitStack() as held:
        for _ in range(2):
            held.enter_context(concurrency_slot(name, limit=2, retry_after=3))
        with pytest.raises(Busy) as refused:
            held.enter_context(concurrency_slot(name, limit=2, retry_after=3))
        assert refused.value.status == 429
        assert refused.value.retry_after == 3
        assert refused.value.extra == {"limit": 2, "retry_after": 3}
        with concurrency_slot(f"{name}:other", limit=2, retry_after=3):
            pass  # another name has slots of its own
    with ExitStack() as held:  # all given back, even the refused one's
        for _ in range(2):
            held.enter_context(concurrency_slot(name, limit=2, retry_after=3))


def test_a_slot_is_given_back_when_the_work_fails() -> None:
    name = f"test:{uuid.uuid4()}"
    with pytest.raises(ZeroDivisionError), concurrency_slot(name, limit=1, retry_after=1):
        _ = 1 / 0
    with concurrency_slot(name, limit=1, retry_after=1):
        pass


def test_local_slots_count_per_name() -> None:
    slots = LocalSlots()
    taken = [slots.take("a", 2), slots.take("a", 2)]
    assert None not in taken
    assert slots.take("a", 2) is None
    assert slots.take("b", 2) is not None
    slots.give_back("a", "a")
    assert slots.take("a", 2) is not None


def test_an_unreachable_redis_still_limits_each_process(caplog: pytest.LogCaptureFixture) -> None:
    # Nothing listens on port 1: a real connection refused, not a mock.
    slots = RedisSlots("redis://127.0.0.1:1/0", "test")
    first = slots.take("k", 1)
    assert first is not None
    assert slots.take("k", 1) is None
    slots.give_back("k", first)
    assert slots.take("k", 1) is not None
    assert "slots counted per process while Redis is unreachable" in caplog.text
