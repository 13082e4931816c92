"""An honest run of the whole Pedersen DKG of crypto/dkg.py with every guardian on this machine.

Invariants: the scalars are drawn in one fixed order (every guardian's key for i = 1..n, then
every dealing for i = 1..n; nothing else draws), so a seeded source gives the same run every
time (the test vectors depend on it); no dealing is bad and no complaint is filed, so every
dealer is qualified.
"""

from __future__ import annotations

from dataclasses import dataclass

from crypto.dkg import (
    Dealing,
    DkgParameters,
    DkgResult,
    GuardianKeyPair,
    GuardianShare,
    Polynomial,
    combine_shares,
    deal,
    dkg_result,
    generate_guardian_key,
    receive_share,
)
from crypto.group import random_scalar
from crypto.proofs import ScalarSource


@dataclass
class DkgRun:
    params: DkgParameters
    keys: dict[int, GuardianKeyPair]
    dealings: list[Dealing]
    polys: dict[int, Polynomial]
    received: dict[int, dict[int, int]]  # recipient -> dealer -> share
    result: DkgResult
    shares: dict[int, GuardianShare]

    @property
    def publics(self):
        return [self.keys[i].public for i in sorted(self.keys)]


def run_dkg(election_id: str, n: int, t: int, rng: ScalarSource | None = None) -> DkgRun:
    """An honest n-guardian, threshold-t run of the whole DKG; ``rng`` is the scalar source of
    every key and dealing (real randomness when None)."""
    rng = random_scalar if rng is None else rng
    params = DkgParameters(election_id, n, t)
    keys = {i: generate_guardian_key(params, i, rng) for i in range(1, n + 1)}
    publics = [keys[i].public for i in range(1, n + 1)]
    dealings, polys = [], {}
    for i in range(1, n + 1):
        d, p = deal(params, i, publics, rng)
        dealings.append(d)
        polys[i] = p
    received = {j: {d.dealer: receive_share(params, keys[j], d) for d in dealings}
                for j in range(1, n + 1)}
    result = dkg_result(params, dealings, [])
    shares = {j: combine_shares(result, j, received[j]) for j in range(1, n + 1)}
    return DkgRun(params, keys, dealings, polys, received, result, shares)
