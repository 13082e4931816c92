"""Values loaded once per key and kept in memory, with concurrent callers sharing one load.

Used where many requests arriving together need the same slow read: the decrypted issuer keys
of an election (server/election/registration.py) and the owners' weights of a roll
(server/election/store.py).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class SharedLoads(Generic[K, V]):
    """``await get(key)``: the kept value, or the result of ``load(key)``.

    * Callers that ask while a load of the key is under way await the same load; one that goes
      away (is cancelled) does not cancel it for the others.
    * An empty (falsy) result is returned but not kept: the next call loads again (an election
      with no issuer keys yet, a roll not imported yet).
    * At most ``keep`` keys are kept, the least recently used dropped first (None: no limit).
    """

    def __init__(self, load: Callable[[K], Awaitable[V]], *, keep: int | None = None) -> None:
        self._load = load
        self.keep = keep
        self._values: OrderedDict[K, V] = OrderedDict()
        self._loading: dict[K, asyncio.Future] = {}

    async def get(self, key: K) -> V:
        if key in self._values:
            self._values.move_to_end(key)
            return self._values[key]
        task = self._loading.get(key)
        if task is None:
            task = self._loading[key] = asyncio.ensure_future(self._load(key))
            task.add_done_callback(lambda t: self._loaded(key, t))
        return await asyncio.shield(task)

    def _loaded(self, key: K, task: asyncio.Future) -> None:
        self._loading.pop(key, None)
        if task.cancelled() or task.exception() is not None or not task.result():
            return
        self._values[key] = task.result()
        while self.keep is not None and len(self._values) > self.keep:
            self._values.popitem(last=False)
