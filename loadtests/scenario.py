"""A city for the load tests: N communities, each with a roll as a housing bureau would deliver
it and an election.

A community's roll has a realistic area distribution: a handful of floor plans repeated across
its buildings (most flats are one of 3–6 plans), a few large units (penthouses, 150–320 m²), a
few percent of units still held by the developer, some owners with two units and some co-owned
units voted by their designated co-owner. Everything is drawn from one seed, so a scenario is
reproducible.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from rules.roll import Unit
from rules.roll_csv import roll_to_csv

PLAN_POOL = [5830, 6520, 7580, 8475, 8950, 9860, 10250, 12025, 13370, 14300, 16845]  # 0.01 m²


@dataclass(frozen=True)
class Community:
    community_id: str
    units: tuple[Unit, ...]

    @property
    def csv(self) -> bytes:
        return roll_to_csv(self.units).encode()

    @property
    def voters(self) -> list[str]:
        """The voting owner ids (the developer is one owner)."""
        return sorted({u.designated_voter for u in self.units})


def community(community_id: str, units: int, rng: random.Random) -> Community:
    plans = rng.sample(PLAN_POOL, rng.randint(3, 6))
    buildings = max(1, units // 120)
    out: list[Unit] = []
    owner = 0
    n = 0
    while n < units:
        owner += 1
        holding = 2 if rng.random() < 0.05 else 1  # some owners hold two units
        for _ in range(holding):
            n += 1
            building = f"{1 + n % buildings}"
            uid = f"{building}-{n:05d}"
            area = rng.randint(15000, 32000) if rng.random() < 0.02 else rng.choice(plans)
            oid = f"{community_id}-o{owner:05d}"
            if rng.random() < 0.03:
                out.append(Unit.unsold(uid, building, area))
            elif rng.random() < 0.08:  # co-owned: the register lists the spouse first
                out.append(Unit(uid, building, area, oid + "-spouse", oid))
            else:
                out.append(Unit.sole(uid, building, area, oid))
    return Community(community_id, tuple(out))


def city(communities: int, units_per_community: tuple[int, int], seed: int = 2026
         ) -> list[Community]:
    rng = random.Random(seed)
    return [community(f"c{k:04d}", rng.randint(*units_per_community), rng)
            for k in range(communities)]
