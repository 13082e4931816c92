"""The ciphertext points of accepted ballots, kept uncompressed for the close's aggregation.

A ballot on the ledger holds its points SEC1-compressed (docs/protocol.md §2): to add them, the
tally must first decompress each one, a square root mod p (six per referendum ballot).
The ballot box's check decodes every point anyway, so it hands the ciphertexts' coordinates
(``x || y`` of alpha and beta per selection, crypto.affine) to this store, which writes them in
batches, keyed by the ballot's ledger index. At the close, server/election/tally.py reads them
with the ledger entries and adds them without a square root.

This is a cache, not a record: nothing here is signed, witnessed or needed.
* The tally checks every copy against the ledger entry (crypto.affine.decode_xy: on the curve,
  same x, same parity of y as the compressed point on the ledger). x and the parity of y
  determine the point, so a wrong row cannot change a sum: it is decoded from the ledger instead.
* Rows are written after the ballot's acknowledgement, in the background, in one multi-row
  insert per batch; rows of a process that dies before its flush are simply missing, and those
  ballots are decompressed from the ledger at the close.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from crypto.affine import encode_xy
from crypto.credential import CastBallot

from ..db import fetch_rows, insert_skipping_conflicts, write_once
from .schema import ballot_points

log = logging.getLogger("ownervote.ballot_points")


def points_of(cast: CastBallot) -> bytes:
    """``x || y`` of each selection's alpha and beta, in order (128 bytes per selection)."""
    return b"".join(encode_xy(p) for s in cast.ballot.selections
                    for p in (s.ciphertext.alpha, s.ciphertext.beta))


class BallotPoints:
    """Buffered writes (flushed every ``interval`` seconds or ``batch`` rows) and range reads."""

    def __init__(self, engine: AsyncEngine, *, interval: float = 0.05, batch: int = 1000) -> None:
        self.engine = engine
        self._insert = insert_skipping_conflicts(engine, ballot_points)
        self.interval = interval
        self.batch = batch
        self._buffer: list[dict] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self.dropped = 0  # rows lost to a failed write (those ballots are decoded at the close)

    def add(self, election_id: str, ledger_index: int, points: bytes) -> None:
        """Queue a row (never blocks the caller, never fails it)."""
        self._buffer.append({"election_id": election_id, "ledger_index": ledger_index,
                             "points": points})
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(),
                                                                name="ballot-points")
        if len(self._buffer) >= self.batch:
            self._wake.set()

    async def _run(self) -> None:
        while self._buffer:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval)
            self._wake.clear()
            await self.flush()

    async def flush(self) -> None:
        """Write every queued row now (idempotent: a row already there is kept)."""
        while self._buffer:
            rows, self._buffer = self._buffer[:self.batch], self._buffer[self.batch:]
            try:
                async with write_once(self.engine) as conn:  # one statement
                    await conn.execute(self._insert, rows)
            except Exception:
                self.dropped += len(rows)
                log.exception("could not keep the points of %d ballots; the close decodes them "
                              "from the ledger", len(rows))

    async def close(self) -> None:
        await self.flush()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def read(self, election_id: str, start: int, end: int) -> dict[int, bytes]:
        """The rows of the election for ledger indexes [start, end)."""
        q = select(ballot_points.c.ledger_index, ballot_points.c.points).where(and_(
            ballot_points.c.election_id == election_id,
            ballot_points.c.ledger_index >= start, ballot_points.c.ledger_index < end))
        return {index: bytes(points) for index, points in await fetch_rows(self.engine, q)}
