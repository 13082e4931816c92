"""What the sequencer admits: a family's last word on an entry, at the one point every server
process's appends pass through, in the log's order.

A server process checks an entry before it appends it (the ballot box: the election is open),
but between that check and the entry's place in the log another process may have appended an
event that makes it wrong (the election's close). The sequencer asks its :class:`AppendGuard`
about each batch, in order, before it commits: a refused entry is never written, and its
appender gets :class:`EntryRefused` (a handed-over entry's refusal is recorded in
``log_refusals`` in its own transaction, before the batch, for the process waiting on it).

A guard's state is what the committed log implies (e.g. which elections are closed). It reads it
when a sequencer starts (:meth:`AppendGuard.resume`), judges a batch as if its admitted entries
were committed one after another (:meth:`AppendGuard.admit`, which changes nothing committed),
may persist what the batch changes in the batch's own transaction (:meth:`AppendGuard.record`),
and learns a batch only once it is committed (:meth:`AppendGuard.committed`). What it refuses
must stay refused: a guard's refusals only grow with the log, so an entry refused once would be
refused at any later place too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncConnection


class EntryRefused(Exception):
    """The sequencer did not admit the entry; ``reason`` says why in one line, ``CODE: detail``
    (``code`` the machine-readable part, e.g. ``NOT_OPEN``; ``detail`` the rest)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        code, sep, detail = reason.partition(": ")
        self.code, self.detail = (code, detail) if sep and code.isupper() else ("", reason)
        super().__init__(reason)


class AppendGuard(Protocol):
    async def resume(self) -> None:
        """Read the state the committed log implies (a new sequencer, or one that recovered)."""

    async def admit(self, entries: Sequence[bytes]) -> list[str | None]:
        """For each entry in order, None if admitted or the reason it is refused (``CODE:
        detail``), judging each as if the admitted ones before it were committed. Changes no
        committed state; what it proposes is for :meth:`record` and :meth:`committed` of the same
        batch (the sequencer runs one batch at a time)."""

    async def record(self, conn: AsyncConnection, entries: Sequence[bytes]) -> None:
        """Write what the batch's admitted ``entries`` change of the guard's persisted state,
        inside the batch's own transaction (so it is exactly what the committed log says)."""

    def committed(self, entries: Sequence[bytes]) -> None:
        """``entries`` (the admitted ones) are committed, in this order."""
