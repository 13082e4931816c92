"""Shared helpers for the crypto test modules (not collected: the name does not start with test_).

Everything here is test scaffolding: running an honest DKG, finding points that are not on P-256,
tampering with frozen dataclasses. No test logic lives here.
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
from crypto.group import FIELD_PRIME, ORDER

# y^2 = x^3 - 3x + b (SEC 2 / FIPS 186-4 P-256)
CURVE_B = 0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B


def curve_rhs(x: int) -> int:
    return (pow(x, 3, FIELD_PRIME) - 3 * x + CURVE_B) % FIELD_PRIME


def is_square(v: int) -> bool:
    """Euler's criterion modulo the field prime."""
    return v == 0 or pow(v, (FIELD_PRIME - 1) // 2, FIELD_PRIME) == 1


def non_residue_xs(count: int, start: int = 1) -> list[int]:
    """The first ``count`` x >= start for which x^3 - 3x + b has no square root (no point)."""
    out = []
    x = start
    while len(out) < count:
        if not is_square(curve_rhs(x)):
            out.append(x)
        x += 1
    return out


def off_curve_encoding(prefix: int = 2) -> bytes:
    """33 bytes with a valid prefix and a reduced x, yet no point on P-256."""
    return bytes([prefix]) + non_residue_xs(1)[0].to_bytes(32, "big")


def order_bytes() -> bytes:
    return ORDER.to_bytes(32, "big")


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


def run_dkg(election_id: str = "dkg-test-election", n: int = 5, t: int = 3) -> DkgRun:
    """An honest n-guardian, threshold-t run of the whole DKG."""
    params = DkgParameters(election_id, n, t)
    keys = {i: generate_guardian_key(params, i) for i in range(1, n + 1)}
    publics = [keys[i].public for i in range(1, n + 1)]
    dealings, polys = [], {}
    for i in range(1, n + 1):
        d, p = deal(params, i, publics)
        dealings.append(d)
        polys[i] = p
    received = {j: {d.dealer: receive_share(params, keys[j], d) for d in dealings}
                for j in range(1, n + 1)}
    result = dkg_result(params, dealings, [])
    shares = {j: combine_shares(result, j, received[j]) for j in range(1, n + 1)}
    return DkgRun(params, keys, dealings, polys, received, result, shares)
