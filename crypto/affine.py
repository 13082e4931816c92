"""Sums of many P-256 points in affine coordinates, for the tally (docs/protocol.md §4.2).

The server's close adds every counted ballot's ciphertext points: for a referendum, six points
per ballot. Through petlib each addition costs ~6 µs (a foreign call and an allocated
``EC_POINT``) and each point first costs a square root to decompress (~30 µs: one 256-bit modular
exponentiation, SEC1 §2.3.4). This module adds points as pairs of GMP integers instead:

* :func:`sum_groups` sums many lists of points at once as a balanced tree, level by level, with
  one modular inversion per level for all the additions of that level (Montgomery's trick:
  3 multiplications per inverted element instead of an inversion each). An addition then costs
  a handful of field multiplications, SEC1 §2.2.1's affine formulas:
  ``λ = (y2 − y1)/(x2 − x1)``, ``x3 = λ² − x1 − x2``, ``y3 = λ(x1 − x3) − y1``, and for
  doubling ``λ = (3x1² + a)/(2y1)`` with ``a = −3``.
* :func:`decode_xy` reads a point kept uncompressed next to its compressed SEC1 encoding (the
  server keeps the points of each verified ballot, server/election/ballot_points.py) and checks
  that it IS that point: on the curve, and the same x and the same parity of y as the 33 bytes
  on the ledger. x and the parity of y determine the point, so a wrong or stale copy is refused
  (DecodeError) and never changes a sum.

The identity is ``None``. Equal or opposite points (a voter may reuse a nonce in two ballots)
take the doubling or cancelling branch, so every sum is exact, equal to petlib's.
"""

from __future__ import annotations

from collections.abc import Sequence

import gmpy2
from petlib.ec import POINT_CONVERSION_UNCOMPRESSED, EcPt

from .errors import DecodeError
from .group import CURVE, FIELD_PRIME, IDENTITY, POINT_LEN, is_identity

Affine = tuple[int, int] | None  # (x, y) with 0 <= x, y < p; None is the identity

P = gmpy2.mpz(FIELD_PRIME)
B = gmpy2.mpz(0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B)  # FIPS 186-4
XY_LEN = 64  # x || y, 32 bytes each, big-endian


def on_curve(x, y) -> bool:
    """y² = x³ − 3x + b (mod p), SEC1 §3.2.2.1 step 4 for a = −3."""
    return (y * y - (x * x * x - 3 * x + B)) % P == 0


def decode_xy(data: bytes, compressed: bytes) -> tuple:
    """The point ``x || y`` (64 bytes) if it is on P-256 and is the point whose SEC1-compressed
    encoding is ``compressed``; DecodeError otherwise."""
    if len(data) != XY_LEN or len(compressed) != POINT_LEN:
        raise DecodeError("an uncompressed point is 64 bytes, a compressed one 33")
    if data[:32] != compressed[1:]:
        raise DecodeError("the uncompressed point has another x-coordinate")
    x = gmpy2.mpz(int.from_bytes(data[:32], "big"))
    y = gmpy2.mpz(int.from_bytes(data[32:], "big"))
    if x >= P or y >= P or not on_curve(x, y):
        raise DecodeError("not a point on P-256")
    if compressed[0] != 2 + (y & 1):
        raise DecodeError("the uncompressed point has the other y-coordinate")
    return x, y


def encode_xy(p: EcPt) -> bytes:
    """``x || y`` of a point other than the identity."""
    raw = p.export(POINT_CONVERSION_UNCOMPRESSED)
    if len(raw) != 1 + XY_LEN:
        raise DecodeError("the identity point has no coordinates")
    return raw[1:]


def from_point(p: EcPt) -> Affine:
    if is_identity(p):
        return None
    raw = encode_xy(p)
    return gmpy2.mpz(int.from_bytes(raw[:32], "big")), gmpy2.mpz(int.from_bytes(raw[32:], "big"))


def to_point(a: Affine) -> EcPt:
    if a is None:
        return IDENTITY
    x, y = a
    return EcPt.from_binary(b"\x04" + int(x).to_bytes(32, "big") + int(y).to_bytes(32, "big"),
                            CURVE)


def _batch_invert(values: list) -> list:
    """Inverses mod p of non-zero values with one inversion (Montgomery's trick)."""
    if not values:
        return []
    prefix = [values[0]]
    for v in values[1:]:
        prefix.append(prefix[-1] * v % P)
    inv = gmpy2.invert(prefix[-1], P)
    out = [None] * len(values)
    for i in range(len(values) - 1, 0, -1):
        out[i] = inv * prefix[i - 1] % P
        inv = inv * values[i] % P
    out[0] = inv
    return out


def sum_groups(groups: Sequence[Sequence[Affine]]) -> list[Affine]:
    """The sum of each list of points."""
    level = [list(g) for g in groups]
    while any(len(g) > 1 for g in level):
        # pair up neighbours; a pair with a denominator to invert is an "addition" (x1 != x2)
        # or a "doubling" (P + P with y != 0); the rest resolve without one
        nxt: list[list[Affine]] = []
        work = []  # (group, slot, x1, y1, x2, numerator, denominator, is_doubling)
        for gi, g in enumerate(level):
            out: list[Affine] = []
            for i in range(0, len(g) - 1, 2):
                p, q = g[i], g[i + 1]
                if p is None or q is None:
                    out.append(q if p is None else p)
                    continue
                x1, y1 = p
                x2, y2 = q
                if x1 != x2:
                    work.append((gi, len(out), x1, y1, x2, y2 - y1, x2 - x1))
                elif y1 == y2 and y1 != 0:
                    work.append((gi, len(out), x1, y1, x1, 3 * x1 * x1 - 3, 2 * y1))
                else:  # q = −p
                    out.append(None)
                    continue
                out.append(None)  # filled below
            if len(g) % 2:
                out.append(g[-1])
            nxt.append(out)
        inverses = _batch_invert([w[6] % P for w in work])
        for (gi, slot, x1, y1, x2, num, _), inv in zip(work, inverses, strict=True):
            lam = num * inv % P
            x3 = (lam * lam - x1 - x2) % P
            nxt[gi][slot] = (x3, (lam * (x1 - x3) - y1) % P)
        level = nxt
    return [g[0] if g else None for g in level]
