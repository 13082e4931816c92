"""RegistrationService decrypts an election's issuer keys once, however many credential requests
arrive together; a failure reaches every waiter and is not cached; no keys yet is not cached."""

from __future__ import annotations

import asyncio

import pytest

from server.election.rpc.registration_service import RegistrationService


class SlowStore:
    def __init__(self, answers: list) -> None:
        self.answers = answers
        self.calls = 0

    async def issuer_private_keys(self, election_id: str, kek: bytes) -> dict:
        self.calls += 1
        await asyncio.sleep(0.01)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def service(store: SlowStore) -> RegistrationService:
    return RegistrationService(store, registrar=None, identity=None, kek=b"k" * 16)


async def test_concurrent_requests_share_one_decryption() -> None:
    store = SlowStore([{100: "key"}])
    svc = service(store)
    got = await asyncio.gather(*(svc._private_keys("e") for _ in range(32)))
    assert got == [{100: "key"}] * 32 and store.calls == 1
    assert await svc._private_keys("e") == {100: "key"} and store.calls == 1  # cached


async def test_a_cancelled_request_does_not_cancel_the_others() -> None:
    store = SlowStore([{100: "key"}])
    svc = service(store)
    first = asyncio.ensure_future(svc._private_keys("e"))
    others = [asyncio.ensure_future(svc._private_keys("e")) for _ in range(3)]
    await asyncio.sleep(0)
    first.cancel()
    assert await asyncio.gather(*others) == [{100: "key"}] * 3
    assert store.calls == 1


async def test_failures_and_missing_keys_are_not_cached() -> None:
    store = SlowStore([RuntimeError("db down"), {}, {100: "key"}])
    svc = service(store)
    results = await asyncio.gather(svc._private_keys("e"), svc._private_keys("e"),
                                   return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results) and store.calls == 1
    assert await svc._private_keys("e") == {}  # no keys yet (before the ceremony finishes)
    assert await svc._private_keys("e") == {100: "key"}
    assert store.calls == 3
    with pytest.raises(IndexError):  # cached now: the store is not asked again
        store.answers.pop()
    assert await svc._private_keys("e") == {100: "key"}
