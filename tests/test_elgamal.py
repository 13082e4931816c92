"""Tests of crypto.elgamal: exponential ElGamal on P-256 and its homomorphisms."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.dlog import DlogTable
from crypto.elgamal import ZERO, Ciphertext, add_all, decrypt_to_point, encrypt
from crypto.group import IDENTITY, ORDER, G, base_mul, mul, random_scalar

FAST = settings(max_examples=25, deadline=None)
small = st.integers(min_value=0, max_value=10**6)

SECRET = random_scalar()
KEY = base_mul(SECRET)


@pytest.fixture(scope="module")
def table() -> DlogTable:
    return DlogTable(5000)


def plaintext_point(ct: Ciphertext):
    return decrypt_to_point(SECRET, ct)


@FAST
@given(small)
def test_encrypt_decrypt_to_point(m):
    ct, r = encrypt(KEY, m)
    assert 1 <= r < ORDER
    assert plaintext_point(ct) == base_mul(m)


def test_encrypt_zero_decrypts_to_identity():
    ct, _ = encrypt(KEY, 0)
    assert plaintext_point(ct).is_infinite()
    assert not ct.alpha.is_infinite() and not ct.beta.is_infinite()


@FAST
@given(small, st.integers(min_value=1, max_value=ORDER - 1))
def test_encrypt_with_given_nonce(m, r):
    ct, r_out = encrypt(KEY, m, r)
    assert r_out == r
    assert ct.alpha == base_mul(r)
    assert ct.beta == base_mul(m) + mul(r, KEY)


def test_encryption_is_randomized():
    a, ra = encrypt(KEY, 1)
    b, rb = encrypt(KEY, 1)
    assert ra != rb
    assert a.alpha != b.alpha and a.beta != b.beta


def test_wrong_key_does_not_decrypt():
    ct, _ = encrypt(KEY, 42)
    assert decrypt_to_point((SECRET + 1) % ORDER, ct) != base_mul(42)


def test_small_table_recovers_plaintexts(table):
    for m in (0, 1, 2, 17, 999, 5000):
        ct, _ = encrypt(KEY, m)
        assert table.log(plaintext_point(ct)) == m


@FAST
@given(small, small)
def test_homomorphic_addition(m1, m2):
    c1, r1 = encrypt(KEY, m1)
    c2, r2 = encrypt(KEY, m2)
    s = c1 + c2
    assert plaintext_point(s) == base_mul(m1 + m2)
    assert s.alpha == base_mul(r1 + r2)  # the nonces add too


@FAST
@given(st.integers(min_value=0, max_value=1), st.integers(min_value=0, max_value=10**9))
def test_scale_by_weight(m, w):
    ct, r = encrypt(KEY, m)
    scaled = ct.scale(w)
    assert plaintext_point(scaled) == base_mul(m * w)
    assert scaled.alpha == base_mul(r * w)


def test_scale_by_zero_and_one():
    ct, _ = encrypt(KEY, 5)
    z = ct.scale(0)
    assert z.alpha.is_infinite() and z.beta.is_infinite()
    assert ct.scale(1) == ct


@FAST
@given(st.lists(st.tuples(st.integers(0, 1), st.integers(1, 10**5)), max_size=8))
def test_add_all_weighted_sum(votes):
    cts = [encrypt(KEY, m)[0].scale(w) for m, w in votes]
    total = add_all(cts)
    assert plaintext_point(total) == base_mul(sum(m * w for m, w in votes))
    if cts:
        acc = cts[0]
        for c in cts[1:]:
            acc = acc + c
        assert total == acc


def test_add_all_empty_is_zero():
    total = add_all([])
    assert total == ZERO
    assert total.alpha == IDENTITY and total.beta == IDENTITY
    assert plaintext_point(total).is_infinite()


def test_add_all_accepts_generator():
    cts = [encrypt(KEY, 1)[0] for _ in range(4)]
    assert plaintext_point(add_all(c for c in cts)) == base_mul(4)


def test_zero_is_additive_identity():
    ct, _ = encrypt(KEY, 9)
    assert ct + ZERO == ct
    assert ZERO + ct == ct


def test_negative_plaintext_wraps_modulo_order():
    ct, _ = encrypt(KEY, -1)
    assert plaintext_point(ct) == -G
