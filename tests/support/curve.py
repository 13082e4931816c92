"""P-256 values for the decoding tests: x coordinates with no point, encodings that look like a
point and are not, the group order as bytes.

Pure arithmetic modulo the field prime of crypto.group; every value is computed, none stored.
"""

from __future__ import annotations

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
