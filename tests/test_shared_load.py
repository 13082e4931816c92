"""server.shared_load.SharedLoads: one load for concurrent callers, kept unless empty or failed,
a cancelled caller does not cancel the others' load, bounded by least recent use."""

from __future__ import annotations

import asyncio

import pytest

from server.shared_load import SharedLoads


async def test_concurrent_callers_share_one_load_and_the_value_is_kept():
    calls: list[str] = []
    gate = asyncio.Event()

    async def load(key: str) -> dict:
        calls.append(key)
        await gate.wait()
        return {"key": key}

    loads = SharedLoads(load)
    waiting = [asyncio.ensure_future(loads.get("a")) for _ in range(5)]
    await asyncio.sleep(0)
    waiting[0].cancel()  # one caller goes away: the load goes on for the others
    gate.set()
    assert await asyncio.gather(*waiting[1:]) == [{"key": "a"}] * 4
    assert await loads.get("a") == {"key": "a"}
    assert calls == ["a"]


async def test_empty_and_failed_results_are_not_kept():
    answers = iter([{}, OSError("database down"), {"x": 1}])
    calls = 0

    async def load(key: str) -> dict:
        nonlocal calls
        calls += 1
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    loads = SharedLoads(load)
    assert await loads.get("k") == {}
    with pytest.raises(OSError):
        await loads.get("k")
    assert await loads.get("k") == {"x": 1}
    assert await loads.get("k") == {"x": 1}
    assert calls == 3


async def test_the_least_recently_used_key_is_dropped_beyond_keep():
    calls: list[str] = []

    async def load(key: str) -> str:
        calls.append(key)
        return key.upper()

    loads = SharedLoads(load, keep=2)
    for key in ("a", "b", "a", "c", "a", "b"):  # "b" was dropped when "c" came
        await loads.get(key)
    assert calls == ["a", "b", "c", "b"]
