"""Bounded discrete logarithm for exponential ElGamal: baby-step giant-step (docs/protocol.md §4.3).

Given ``M = v·G`` with ``0 <= v <= bound`` find v. Sized for a city's total floor area in
0.01 m² units (10^11).

Two economies make it fast in Python:

* x-only table. The table holds ``x(j·G)`` for ``j = 1..m``. Since ``x(P) = x(-P)``, a hit tells
  ``P = ±j·G`` and the stored y-parity says which, so one table covers ``[-m, m]`` and the giant
  stride is ``S = 2m + 1``: about ``m + bound/(2m)`` steps instead of ``m + bound/m``.
* Batched affine additions. Both the table build and the giant-step walk advance many independent
  "lanes" by the same point; the slope denominators of a whole round share one modular inversion
  (Montgomery's trick), so each step costs a handful of integer multiplications.

The table is built once per process and reused for every ciphertext (:func:`shared_table`).
"""

from __future__ import annotations

import threading
from math import isqrt

from petlib.ec import EcPt

from .errors import DiscreteLogNotFound
from .group import FIELD_PRIME as P
from .group import base_mul, is_identity, mul

_MASK = (1 << 64) - 1
_LANES = 256
CITY_BOUND = 10**11  # a city's total exclusive area in 0.01 m²


def _affine(pt: EcPt) -> tuple[int, int]:
    x, y = pt.get_affine()
    return int(x), int(y)


def _batch_inverse(values: list[int]) -> list[int]:
    """Montgomery's trick: the inverses of all values mod p with one exponentiation."""
    prefix = [0] * len(values)
    acc = 1
    for i, v in enumerate(values):
        prefix[i] = acc
        acc = acc * v % P
    inv = pow(acc, -1, P)
    out = [0] * len(values)
    for i in range(len(values) - 1, -1, -1):
        out[i] = prefix[i] * inv % P
        inv = inv * values[i] % P
    return out


def _advance(xs: list[int], ys: list[int], sx: int, sy: int) -> list[int]:
    """Add the affine point (sx, sy) to every lane in place (Montgomery-batched slopes).

    Returns the lanes whose sum is the identity (the point was -(sx, sy)); their coordinates are
    left unchanged and the caller decides. A lane equal to (sx, sy) is doubled.
    """
    dens = [(sx - x) % P for x in xs]
    special = [i for i, d in enumerate(dens) if d == 0]
    identity: list[int] = []
    for i in special:
        if ys[i] == sy and sy != 0:
            dens[i] = 2 * sy % P  # doubling: lambda = (3x^2 + a) / 2y with a = -3
        else:
            identity.append(i)
            dens[i] = 1
    invs = _batch_inverse(dens)
    skip = set(identity)
    for i, inv in enumerate(invs):
        if i in skip:
            continue
        x1 = xs[i]
        if dens[i] == 2 * sy % P and x1 == sx and ys[i] == sy:
            lam = (3 * x1 * x1 - 3) * inv % P
            x3 = (lam * lam - 2 * x1) % P
        else:
            lam = (sy - ys[i]) * inv % P
            x3 = (lam * lam - x1 - sx) % P
        ys[i] = (lam * (x1 - x3) - ys[i]) % P
        xs[i] = x3
    return identity


class DlogTable:
    """Baby steps ``j·G`` for ``j = 1..m`` keyed by the low 64 bits of x."""

    def __init__(self, bound: int, baby_steps: int | None = None) -> None:
        if bound < 0:
            raise ValueError("bound must be non-negative")
        self.bound = bound
        self.m = max(1, baby_steps if baby_steps is not None else isqrt(bound // 2) + 1)
        self.stride = 2 * self.m + 1
        self._table: dict[int, int] = {}  # key -> 2*j + parity(y(j·G))
        self._overflow: dict[int, list[int]] = {}
        lanes = min(_LANES, self.m)
        starts = [_affine(base_mul(j + 1)) for j in range(lanes)]
        xs = [s[0] for s in starts]
        ys = [s[1] for s in starts]
        sx, sy = _affine(base_mul(lanes))
        j0 = 1
        while j0 <= self.m:
            for i in range(lanes):
                j = j0 + i
                if j > self.m:
                    break
                self._insert(xs[i] & _MASK, 2 * j + (ys[i] & 1))
            j0 += lanes
            if j0 <= self.m and _advance(xs, ys, sx, sy):
                # (j + lanes)·G is never the identity for j, lanes < q
                raise AssertionError("baby-step table reached the identity")
        stride_pt = base_mul(self.stride)
        self._neg_stride = _affine(-stride_pt)
        self._neg_stride_pt = -stride_pt

    def _insert(self, key: int, value: int) -> None:
        if key in self._table:
            self._overflow.setdefault(key, []).append(value)
        else:
            self._table[key] = value

    def _candidates(self, x: int, y: int, base: int) -> list[int]:
        key = x & _MASK
        hit = self._table.get(key)
        if hit is None:
            return []
        out = []
        for packed in [hit, *self._overflow.get(key, ())]:
            j, parity = packed >> 1, packed & 1
            out.append(base + j if (y & 1) == parity else base - j)
        return out

    def log(self, point: EcPt, bound: int | None = None) -> int:
        """The v in [0, bound] with point = v·G; raises DiscreteLogNotFound otherwise."""
        bound = self.bound if bound is None else bound
        if is_identity(point):
            return 0
        target = point
        lanes = max(1, min(_LANES, bound // self.stride + 1))
        # lane l starts at M - l·S and each round subtracts lanes·S
        starts: list[tuple[int, int] | None] = []
        cur = target
        for lane in range(lanes):
            if is_identity(cur):
                return self._check(target, lane * self.stride, bound)
            starts.append(_affine(cur))
            cur = cur + self._neg_stride_pt
        xs = [s[0] for s in starts]
        ys = [s[1] for s in starts]
        step_pt = mul(lanes, self._neg_stride_pt)
        sx, sy = _affine(step_pt)
        rnd = 0
        while True:
            for lane in range(lanes):
                base = (rnd * lanes + lane) * self.stride
                if base - self.m > bound:
                    raise DiscreteLogNotFound(f"plaintext not in [0, {bound}]")
                for v in self._candidates(xs[lane], ys[lane], base):
                    if 0 <= v <= bound and base_mul(v) == target:
                        return v
            rnd += 1
            for lane in _advance(xs, ys, sx, sy):
                # this lane stepped onto the identity: M = base·G for its next base
                base = (rnd * lanes + lane) * self.stride
                if 0 <= base <= bound and base_mul(base) == target:
                    return base
                raise DiscreteLogNotFound(f"plaintext not in [0, {bound}]")

    def _check(self, target: EcPt, v: int, bound: int) -> int:
        if 0 <= v <= bound and base_mul(v) == target:
            return v
        raise DiscreteLogNotFound(f"plaintext not in [0, {bound}]")


_shared: dict[int, DlogTable] = {}
_lock = threading.Lock()


def shared_table(bound: int = CITY_BOUND) -> DlogTable:
    """A process-wide table able to solve every v <= bound, built on first use and reused.

    A table built for a larger bound serves any smaller one.
    """
    with _lock:
        for b, table in _shared.items():
            if b >= bound:
                return table
        table = DlogTable(bound)
        _shared[bound] = table
        return table
