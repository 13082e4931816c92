"""A registrar's own copy of the roll (docs/protocol.md §8.4): imported from the same CSV the
committee publishes, parsed by rules.roll_csv, and kept by its hash. The registrar checks an
owner's weight class against this copy, and an election's definition names the roll by the
hash the ledger commits to: a copy that is not that roll is never used for it."""

from __future__ import annotations

from sqlalchemy import and_, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from rules.roll import Roll, roll_hash
from rules.roll_csv import parse_roll_csv

from ..db import read_engine
from .schema import registrar_rolls


class RollStore:
    def __init__(self, engine: AsyncEngine, registrar: str) -> None:
        self.engine = engine
        self.reads = read_engine(engine)
        self.registrar = registrar
        self._weights: dict[bytes, dict[str, int]] = {}

    async def import_csv(self, text: str) -> tuple[bytes, Roll]:
        """Parse and keep a roll (RollImportError / ValueError for a bad one); its hash. A roll
        imported before is kept as it was."""
        roll = parse_roll_csv(text)
        h = roll_hash(roll)
        if await self.has(h):
            return h, roll
        async with self.engine.begin() as conn:
            await conn.execute(insert(registrar_rolls), [
                {"registrar": self.registrar, "roll_hash": h, "owner_id": o.owner_id,
                 "weight": o.area} for o in roll.owners])
        return h, roll

    async def has(self, h: bytes) -> bool:
        q = select(registrar_rolls.c.owner_id).where(and_(
            registrar_rolls.c.registrar == self.registrar,
            registrar_rolls.c.roll_hash == h)).limit(1)
        async with self.reads.connect() as conn:
            return (await conn.execute(q)).first() is not None

    async def weights(self, h: bytes) -> dict[str, int]:
        """Owner id -> weight of the roll with this hash (empty if not imported). A roll never
        changes, so it is read once."""
        cached = self._weights.get(h)
        if cached is None:
            q = select(registrar_rolls.c.owner_id, registrar_rolls.c.weight).where(and_(
                registrar_rolls.c.registrar == self.registrar,
                registrar_rolls.c.roll_hash == h))
            async with self.reads.connect() as conn:
                cached = {r.owner_id: r.weight for r in (await conn.execute(q)).all()}
            if cached:
                self._weights[h] = cached
        return cached
