"""crypto.affine: batched affine sums equal petlib's, and a kept uncompressed point is used only
if it is exactly the ledger's compressed point."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto import affine
from crypto.errors import DecodeError
from crypto.group import FIELD_PRIME, IDENTITY, G, base_mul, encode_point, mul, point_sum


def _sum(points):
    return affine.to_point(affine.sum_groups([[affine.from_point(p) for p in points]])[0])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(-4, 4), max_size=9), min_size=1, max_size=5))
def test_sums_equal_petlib_including_doubling_cancelling_and_identity(groups):
    """Small multiples of G make equal, opposite and identity points frequent."""
    pts = [[mul(k, G) if k >= 0 else -mul(-k, G) for k in g] for g in groups]
    got = affine.sum_groups([[affine.from_point(p) for p in g] for g in pts])
    for g, s in zip(pts, got, strict=True):
        assert affine.to_point(s) == point_sum(g)


def test_sums_of_random_points_and_edge_cases():
    p, q = base_mul(12345), base_mul(987654321)
    many = [base_mul(k * 7919 + 1) for k in range(101)]
    assert _sum(many) == point_sum(many)
    assert _sum([p, p]) == p + p
    assert _sum([p, -p]) == IDENTITY
    assert _sum([p, q, -q, -p, p]) == p
    assert _sum([]) == IDENTITY
    assert affine.sum_groups([]) == []


def test_decode_xy_accepts_exactly_the_compressed_point():
    p = base_mul(424242)
    xy, c = affine.encode_xy(p), encode_point(p)
    assert affine.to_point(affine.decode_xy(xy, c)) == p
    neg = affine.encode_xy(-p)
    with pytest.raises(DecodeError, match="other y"):
        affine.decode_xy(neg, c)  # same x, the other root
    with pytest.raises(DecodeError, match="another x"):
        affine.decode_xy(affine.encode_xy(base_mul(5)), c)
    with pytest.raises(DecodeError, match="not a point"):
        affine.decode_xy(xy[:32] + (int.from_bytes(xy[32:], "big") ^ 2).to_bytes(32, "big"), c)
    over = (FIELD_PRIME + 3).to_bytes(32, "big")  # x >= p is refused even if both agree
    with pytest.raises(DecodeError, match="not a point"):
        affine.decode_xy(over + xy[32:], b"\x02" + over)
    for bad in (xy[:-1], xy + b"\0"):
        with pytest.raises(DecodeError, match="64 bytes"):
            affine.decode_xy(bad, c)
    with pytest.raises(DecodeError):
        affine.encode_xy(IDENTITY)
