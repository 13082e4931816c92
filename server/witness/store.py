"""The witness's own store: per log origin, the latest co-signed size, root and compact range,
and the note it co-signed at that size.

The update is a compare-and-swap on the old size inside one transaction, so two concurrent
add-checkpoint calls can never both advance from the same state (C2SP tlog-witness: the
check and the store are atomic); the co-signed note is written in the same statement, so the
note kept is always the checkpoint of the size kept.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import (
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from crypto.log import merkle

from .schema import witness_logs


@dataclass(frozen=True)
class WitnessedState:
    size: int
    root: bytes
    frontier: tuple[bytes, ...]
    # the signed note of the checkpoint of ``size`` as co-signed (b"": none kept yet)
    cosigned_note: bytes = b""

    @classmethod
    def empty(cls) -> WitnessedState:
        return cls(0, merkle.EMPTY_ROOT, ())


class WitnessStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def get(self, origin: str) -> WitnessedState:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(witness_logs).where(
                witness_logs.c.origin == origin))).first()
        if row is None:
            return WitnessedState.empty()
        f = bytes(row.frontier)
        return WitnessedState(row.size, bytes(row.root),
                              tuple(f[i:i + 32] for i in range(0, len(f), 32)),
                              bytes(row.cosigned_note or b""))

    async def advance(self, origin: str, old_size: int, new: WitnessedState) -> bool:
        """Store ``new`` (its co-signed note with it) iff the stored size is still ``old_size``;
        False if it moved."""
        values = {"size": new.size, "root": new.root, "frontier": b"".join(new.frontier),
                  "cosigned_note": new.cosigned_note or None}
        async with self.engine.begin() as conn:
            if old_size == 0:
                exists = (await conn.execute(select(witness_logs.c.size).where(
                    witness_logs.c.origin == origin))).first()
                if exists is None:
                    try:
                        await conn.execute(insert(witness_logs).values(origin=origin, **values))
                        return True
                    except IntegrityError:
                        return False
            result = await conn.execute(update(witness_logs).where(
                (witness_logs.c.origin == origin) & (witness_logs.c.size == old_size))
                .values(**values))
            return result.rowcount == 1
