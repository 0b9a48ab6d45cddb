"""The start-up freeze: what exists is skipped by the collector, what comes later is still collected."""

from __future__ import annotations

import gc
import weakref

from wafaa.common.runtime.heap import freeze_startup_heap


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


def _cycle() -> weakref.ref[_Node]:
    a, b = _Node(), _Node()
    a.other, b.other = b, a
    return weakref.ref(a)


def test_objects_alive_at_start_up_are_frozen_and_later_garbage_is_still_collected() -> None:
    try:
        frozen = freeze_startup_heap("test")
        assert frozen == gc.get_freeze_count() > 0
        later = _cycle()  # a reference cycle made while serving: only the collector frees it
        assert later() is not None
        gc.collect()
        assert later() is None
        assert gc.get_freeze_count() == frozen  # the collection left the frozen generation alone
    finally:
        gc.unfreeze()
