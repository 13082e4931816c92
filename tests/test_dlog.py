"""Tests of crypto.dlog: the bounded baby-step giant-step discrete log."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto import dlog
from crypto.dlog import CITY_BOUND, DlogTable, shared_table
from crypto.errors import DiscreteLogNotFound
from crypto.group import IDENTITY, ORDER, base_mul, random_scalar

FAST = settings(max_examples=25, deadline=None)
LANES = 256


def test_lane_count_is_what_the_tests_assume():
    assert dlog._LANES == LANES


@pytest.fixture(scope="module")
def small() -> DlogTable:
    return DlogTable(2000)


@pytest.fixture(scope="module")
def multi_round() -> DlogTable:
    """m = 20, stride 41: 256 lanes cover 10496 per round, so 100000 needs ~10 rounds."""
    return DlogTable(100_000, baby_steps=20)


@pytest.fixture(scope="module")
def big_baby() -> DlogTable:
    """m > 256 lanes: the table build's first advance doubles a lane (256·G + 256·G)."""
    return DlogTable(50_000, baby_steps=600)


def test_small_table_parameters(small):
    assert small.bound == 2000
    assert small.m == 32  # isqrt(2000 // 2) + 1
    assert small.stride == 2 * small.m + 1


def test_every_value_up_to_2000(small):
    for v in range(0, 2001):
        assert small.log(base_mul(v)) == v, v


def test_identity_is_zero(small):
    assert small.log(IDENTITY) == 0


@pytest.mark.parametrize("v", [2001, 2002, 2065, 4000, 10**6])
def test_above_bound_not_found(small, v):
    with pytest.raises(DiscreteLogNotFound):
        small.log(base_mul(v))


@pytest.mark.parametrize("k", [1, 2, 32, 33, 65, 1000])
def test_negative_values_not_found(small, k):
    """-k·G has x(kG) in the table with the other parity: it must not be read as k."""
    with pytest.raises(DiscreteLogNotFound):
        small.log(base_mul(-k))


def test_random_point_not_found(small):
    with pytest.raises(DiscreteLogNotFound):
        small.log(base_mul(random_scalar() | (1 << 200)))


def test_explicit_bound(small):
    assert small.log(base_mul(1000), bound=1000) == 1000
    with pytest.raises(DiscreteLogNotFound):
        small.log(base_mul(1001), bound=1000)
    with pytest.raises(DiscreteLogNotFound):
        small.log(base_mul(1500), bound=1000)
    # a larger bound than the table was sized for still works (just more giant steps)
    assert small.log(base_mul(50_000), bound=60_000) == 50_000


def _around(k: int, s: int, m: int) -> list[int]:
    c = k * s
    return [c - m - 1, c - m, c - m + 1, c - 1, c, c + 1, c + m - 1, c + m, c + m + 1]


def test_multi_round_parameters(multi_round):
    assert multi_round.m == 20 and multi_round.stride == 41
    assert multi_round.bound // multi_round.stride + 1 > LANES  # several rounds are needed


def test_multi_round_stride_and_lane_boundaries(multi_round):
    t = multi_round
    s, m = t.stride, t.m
    ks = [0, 1, 2, 3, LANES - 2, LANES - 1, LANES, LANES + 1, 2 * LANES - 1, 2 * LANES,
          2 * LANES + 1, 3 * LANES, 5 * LANES + 7, 9 * LANES, t.bound // s - 1, t.bound // s]
    checked = 0
    for k in ks:
        for v in _around(k, s, m):
            if 0 <= v <= t.bound:
                assert t.log(base_mul(v)) == v, (k, v)
                checked += 1
    assert checked > 120


def test_multi_round_bound_edges(multi_round):
    t = multi_round
    assert t.log(base_mul(t.bound)) == t.bound
    with pytest.raises(DiscreteLogNotFound):
        t.log(base_mul(t.bound + 1))
    # an exact stride multiple beyond the bound: a lane steps onto the identity
    beyond = (t.bound // t.stride + 3) * t.stride
    with pytest.raises(DiscreteLogNotFound):
        t.log(base_mul(beyond))


@pytest.mark.parametrize("lane", [1, 2, 100, 255])
def test_giant_step_doubling_lane_is_handled(multi_round, lane):
    """For P = -(256 - lane)·S·G lane `lane` equals the giant step, so _advance doubles it."""
    t = multi_round
    with pytest.raises(DiscreteLogNotFound):
        t.log(base_mul(-(LANES - lane) * t.stride))


@FAST
@given(st.integers(min_value=0, max_value=100_000))
def test_multi_round_random_values(multi_round, v):
    assert multi_round.log(base_mul(v)) == v


def test_table_with_more_baby_steps_than_lanes(big_baby):
    t = big_baby
    assert t.m == 600 and t.stride == 1201
    # every baby step j = 1..600 (built in lanes of 256, the first advance doubling 256·G),
    # searched with a small bound so that only the first giant lanes run
    for v in range(0, 620):
        assert t.log(base_mul(v), bound=2 * t.stride) == v, v
    for v in [LANES * 2, LANES * 2 + 1, 2 * t.stride, 10 * t.stride + 599, 50_000]:
        assert t.log(base_mul(v)) == v, v


@FAST
@given(st.integers(min_value=0, max_value=50_000))
def test_big_baby_random_values(big_baby, v):
    assert big_baby.log(base_mul(v)) == v


def test_custom_baby_steps():
    t = DlogTable(5000, baby_steps=7)
    assert t.m == 7 and t.stride == 15
    values = list(range(0, 60)) + list(range(0, 5001, 97))
    values += [v for k in (LANES - 1, LANES, LANES + 1, 333) for v in _around(k, 15, 7)]
    for v in values:
        if 0 <= v <= 5000:
            assert t.log(base_mul(v)) == v, v
    with pytest.raises(DiscreteLogNotFound):
        t.log(base_mul(5001))


def test_baby_steps_zero_means_one():
    t = DlogTable(50, baby_steps=0)
    assert t.m == 1 and t.stride == 3
    for v in range(51):
        assert t.log(base_mul(v)) == v
    with pytest.raises(DiscreteLogNotFound):
        t.log(base_mul(51))


def test_bound_zero():
    t = DlogTable(0)
    assert t.log(IDENTITY) == 0
    with pytest.raises(DiscreteLogNotFound):
        t.log(base_mul(1))


def test_negative_bound_rejected():
    with pytest.raises(ValueError):
        DlogTable(-1)


def test_default_table_ten_million_rounds():
    """Default sizing with several full rounds of 256 lanes."""
    t = DlogTable(10**7)
    s = t.stride
    assert t.bound // s + 1 > LANES
    for v in [0, 1, t.m, t.m + 1, s - 1, s, s + 1, LANES * s - 1, LANES * s, LANES * s + 1,
              2 * LANES * s, 2 * LANES * s + t.m, 10**7 - 1, 10**7]:
        assert t.log(base_mul(v)) == v, v


# --- the city-sized shared table ------------------------------------------------------------

@pytest.fixture(scope="module")
def city() -> DlogTable:
    return shared_table()


def test_shared_table_is_shared(city):
    assert city.bound >= CITY_BOUND
    assert shared_table() is city
    assert shared_table(10**6) is city  # a larger table serves a smaller bound
    assert shared_table(CITY_BOUND) is city


@pytest.mark.parametrize("v", [10**11, 10**11 - 12_345])
def test_city_bound_value_near_1e11(city, v):
    assert city.log(base_mul(v)) == v


def test_city_bound_small_value(city):
    assert city.log(base_mul(123_456)) == 123_456


def test_above_city_bound_not_found(city):
    with pytest.raises(DiscreteLogNotFound):
        city.log(base_mul(CITY_BOUND + 1), bound=CITY_BOUND)


def test_order_minus_one_not_found(small):
    with pytest.raises(DiscreteLogNotFound):
        small.log(base_mul(ORDER - 1))
