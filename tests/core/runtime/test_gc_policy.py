"""The collector is settled after loading a big list only: a full collection walks the
whole process, which for a small list costs more than it saves."""

from __future__ import annotations

import gc

import pytest
from vidwatch.core.runtime.gc_policy import SETTLE_AT, settle_after_load


def test_a_big_list_settles_and_a_small_one_does_not(monkeypatch: pytest.MonkeyPatch) -> None:
    collected: list[int] = []

    def collect(*_: object) -> int:
        collected.append(1)
        return 0

    monkeypatch.setattr(gc, "collect", collect)
    monkeypatch.setattr(gc, "freeze", lambda: None)
    monkeypatch.setattr(gc, "unfreeze", lambda: None)
    assert settle_after_load(SETTLE_AT - 1) is False
    assert collected == []
    assert settle_after_load(SETTLE_AT) is True
    assert collected == [1]
