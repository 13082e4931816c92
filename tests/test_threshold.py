"""Tests of crypto.threshold: verifiable partial decryptions and t-of-n combination (5 of 3).

Only guardian shares are ever used to decrypt: the joint secret is never assembled.
"""

from __future__ import annotations

from dataclasses import replace
from itertools import combinations, permutations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.dkg import GuardianShare
from crypto.dlog import DlogTable
from crypto.elgamal import ZERO, Ciphertext, add_all, encrypt
from crypto.errors import InsufficientShares, InvalidProof, InvalidShare
from crypto.group import ORDER, G, base_mul, mul, random_scalar
from crypto.proofs import EquationBatch
from crypto.threshold import (
    DecryptionShare,
    combine_decryption_shares,
    is_trivial,
    lagrange_at_zero,
    partial_decrypt,
    threshold_decrypt,
    verify_decryption_share,
)
from tests.support.dkg import DkgRun, run_dkg

FAST = settings(max_examples=25, deadline=None)
EID = "threshold-test-election"
LABEL = "option[0].area"
PLAINTEXT = 1234


@pytest.fixture(scope="module")
def run() -> DkgRun:
    return run_dkg(EID, 5, 3)


@pytest.fixture(scope="module")
def table() -> DlogTable:
    return DlogTable(5000)


@pytest.fixture(scope="module")
def ct(run):
    c, _ = encrypt(run.result.joint_public_key, PLAINTEXT)
    return c


@pytest.fixture(scope="module")
def dshares(run, ct) -> dict[int, DecryptionShare]:
    return {j: partial_decrypt(EID, LABEL, run.shares[j], ct) for j in range(1, 6)}


def decrypt(run, ct, shares, t=3):
    return threshold_decrypt(EID, LABEL, ct, shares, run.result.verification_keys, t)


def test_shares_verify(run, ct, dshares):
    for j, s in dshares.items():
        assert s.guardian == j
        assert s.share == mul(run.shares[j].secret, ct.alpha)
        verify_decryption_share(EID, LABEL, run.result.verification_keys[j], ct, s)


@pytest.mark.parametrize("subset", list(combinations(range(1, 6), 3)))
def test_every_3_subset_decrypts(run, ct, dshares, table, subset):
    point = decrypt(run, ct, [dshares[j] for j in subset])
    assert point == base_mul(PLAINTEXT)
    assert table.log(point) == PLAINTEXT


@pytest.mark.parametrize("size", [4, 5])
def test_more_than_t_shares(run, ct, dshares, size):
    for subset in combinations(range(1, 6), size):
        assert decrypt(run, ct, [dshares[j] for j in subset]) == base_mul(PLAINTEXT)


def test_share_order_does_not_matter(run, ct, dshares):
    for order in permutations((1, 3, 5)):
        assert decrypt(run, ct, [dshares[j] for j in order]) == base_mul(PLAINTEXT)


def test_combine_of_verified_shares(ct, dshares):
    assert combine_decryption_shares(ct, [dshares[2], dshares[4], dshares[5]], 3) \
        == base_mul(PLAINTEXT)


def test_decrypt_weighted_tally(run, table):
    """A homomorphic, area-weighted tally decrypted by three guardians."""
    key = run.result.joint_public_key
    votes = [(1, 120), (0, 75), (1, 98), (1, 300), (0, 64)]
    tally = add_all(encrypt(key, m)[0].scale(w) for m, w in votes)
    shares = [partial_decrypt(EID, "option[0].area", run.shares[j], tally) for j in (5, 1, 4)]
    point = threshold_decrypt(EID, "option[0].area", tally, shares, run.result.verification_keys,
                              3)
    assert table.log(point) == 120 + 98 + 300


def test_decrypt_zero(run):
    c, _ = encrypt(run.result.joint_public_key, 0)
    shares = [partial_decrypt(EID, LABEL, run.shares[j], c) for j in (1, 2, 3)]
    assert decrypt(run, c, shares).is_infinite()


def test_decrypt_empty_tally(run):
    """An election with no ballots has the tally ZERO = (O, O): public, decrypted without shares."""
    tally = add_all([])
    assert tally == ZERO and is_trivial(tally)
    with pytest.raises(ValueError):
        partial_decrypt(EID, LABEL, run.shares[1], tally)
    assert decrypt(run, tally, []).is_infinite()  # public: needs no guardian
    # a trivial encryption of 7 (alpha = O) is public too, and takes no shares
    seven = Ciphertext(ZERO.alpha, base_mul(7))
    assert decrypt(run, seven, []) == base_mul(7)


# --- invalid shares ------------------------------------------------------------------------------

@pytest.mark.parametrize("guardian", [1, 3, 5])
def test_bad_proof_names_the_guardian(run, ct, dshares, guardian):
    s = dshares[guardian]
    bad = replace(s, proof=replace(s.proof, response=(s.proof.response + 1) % ORDER))
    others = [dshares[j] for j in range(1, 6) if j != guardian]
    with pytest.raises(InvalidShare) as info:
        decrypt(run, ct, others[:2] + [bad] + others[2:])
    assert info.value.guardian == guardian
    assert LABEL in info.value.detail
    with pytest.raises(InvalidShare) as info:
        verify_decryption_share(EID, LABEL, run.result.verification_keys[guardian], ct, bad)
    assert info.value.guardian == guardian
    assert isinstance(info.value.__cause__, InvalidProof)


def test_wrong_partial_decryption_value(run, ct, dshares):
    s = dshares[2]
    with pytest.raises(InvalidShare) as info:
        decrypt(run, ct, [dshares[1], replace(s, share=s.share + G), dshares[3]])
    assert info.value.guardian == 2


def test_guardian_with_wrong_secret(run, ct):
    """A consistent DLEQ proof for the wrong secret: refused against the verification key."""
    wrong = GuardianShare(4, (run.shares[4].secret + 1) % ORDER)
    s = partial_decrypt(EID, LABEL, wrong, ct)
    with pytest.raises(InvalidShare) as info:
        verify_decryption_share(EID, LABEL, run.result.verification_keys[4], ct, s)
    assert info.value.guardian == 4


def test_share_for_another_ciphertext(run, ct, dshares):
    other, _ = encrypt(run.result.joint_public_key, PLAINTEXT)
    s = partial_decrypt(EID, LABEL, run.shares[3], other)
    with pytest.raises(InvalidShare) as info:
        decrypt(run, ct, [dshares[1], dshares[2], s])
    assert info.value.guardian == 3
    # same alpha, other beta: the ciphertext's beta is bound too
    same_alpha = replace(ct, beta=ct.beta + G)
    s2 = partial_decrypt(EID, LABEL, run.shares[3], same_alpha)
    assert s2.share == dshares[3].share
    with pytest.raises(InvalidShare):
        verify_decryption_share(EID, LABEL, run.result.verification_keys[3], ct, s2)


def test_share_claimed_by_wrong_guardian(run, ct, dshares):
    relabelled = replace(dshares[2], guardian=4)
    with pytest.raises(InvalidShare) as info:
        decrypt(run, ct, [dshares[1], relabelled, dshares[3]])
    assert info.value.guardian == 4
    # even checked against guardian 2's own key, the proof is bound to index 4 now
    with pytest.raises(InvalidShare):
        verify_decryption_share(EID, LABEL, run.result.verification_keys[2], ct, relabelled)


def test_share_with_another_label(run, ct, dshares):
    s = partial_decrypt(EID, "option[1].area", run.shares[2], ct)
    with pytest.raises(InvalidShare) as info:
        decrypt(run, ct, [dshares[1], s, dshares[3]])
    assert info.value.guardian == 2


def test_share_with_another_election(run, ct, dshares):
    s = partial_decrypt("another-election", LABEL, run.shares[5], ct)
    with pytest.raises(InvalidShare) as info:
        decrypt(run, ct, [dshares[1], dshares[2], s])
    assert info.value.guardian == 5


def test_unknown_guardian(run, ct, dshares):
    with pytest.raises(InvalidShare) as info:
        decrypt(run, ct, [dshares[1], dshares[2], replace(dshares[3], guardian=6)])
    assert info.value.guardian == 6


def test_batch_verification_of_shares(run, ct, dshares):
    batch = EquationBatch()
    for j, s in dshares.items():
        verify_decryption_share(EID, LABEL, run.result.verification_keys[j], ct, s, batch)
    batch.verify()
    batch = EquationBatch()
    for j, s in dshares.items():
        if j == 3:
            s = replace(s, share=s.share + G)
        verify_decryption_share(EID, LABEL, run.result.verification_keys[j], ct, s, batch)
    with pytest.raises(InvalidProof):
        batch.verify()


# --- counting shares -----------------------------------------------------------------------------

@pytest.mark.parametrize("subset", [(), (1,), (2, 5)])
def test_fewer_than_t_shares(run, ct, dshares, subset):
    with pytest.raises(InsufficientShares):
        decrypt(run, ct, [dshares[j] for j in subset])
    with pytest.raises(InsufficientShares):
        combine_decryption_shares(ct, [dshares[j] for j in subset], 3)


def test_duplicates_do_not_count_twice(run, ct, dshares):
    with pytest.raises(InsufficientShares):
        decrypt(run, ct, [dshares[1], dshares[1], dshares[2]])
    with pytest.raises(InsufficientShares):
        decrypt(run, ct, [dshares[4]] * 5)
    # a second, freshly proven share from the same guardian is still the same guardian
    again = partial_decrypt(EID, LABEL, run.shares[1], ct)
    assert again.proof != dshares[1].proof
    with pytest.raises(InsufficientShares):
        decrypt(run, ct, [dshares[1], again, dshares[2]])
    assert decrypt(run, ct, [dshares[1], again, dshares[2], dshares[5]]) == base_mul(PLAINTEXT)


def test_wrong_t_gives_wrong_plaintext(ct, dshares):
    """Interpolating with t - 1 shares of a degree t - 1 polynomial does not decrypt."""
    assert combine_decryption_shares(ct, [dshares[1], dshares[2]], 2) != base_mul(PLAINTEXT)


# --- Lagrange coefficients -----------------------------------------------------------------------

@FAST
@given(st.integers(1, 6), st.data())
def test_lagrange_interpolates_at_zero(t, data):
    coeffs = data.draw(st.lists(st.integers(0, ORDER - 1), min_size=t, max_size=t))
    indexes = data.draw(st.lists(st.integers(1, 255), min_size=t, max_size=t, unique=True))

    def f(x):
        return sum(a * pow(x, k, ORDER) for k, a in enumerate(coeffs)) % ORDER

    lam = lagrange_at_zero(indexes)
    assert set(lam) == set(indexes)
    assert sum(lam[j] * f(j) for j in indexes) % ORDER == coeffs[0]
    assert sum(lam.values()) % ORDER == 1  # interpolates the constant 1


@FAST
@given(st.integers(2, 6), st.data())
def test_lagrange_too_few_points_misses(t, data):
    coeffs = data.draw(st.lists(st.integers(1, ORDER - 1), min_size=t, max_size=t))
    indexes = data.draw(st.lists(st.integers(1, 255), min_size=t - 1, max_size=t - 1,
                                 unique=True))

    def f(x):
        return sum(a * pow(x, k, ORDER) for k, a in enumerate(coeffs)) % ORDER

    lam = lagrange_at_zero(indexes)
    # with t - 1 points the interpolant of a degree t - 1 polynomial is off by
    # a_{t-1} * prod(-j) at zero, which is non-zero
    assert sum(lam[j] * f(j) for j in indexes) % ORDER != coeffs[0]


def test_lagrange_known_values():
    lam = lagrange_at_zero([1, 2, 3])
    assert lam == {1: 3, 2: ORDER - 3, 3: 1}
    assert lagrange_at_zero([7]) == {7: 1}


def test_partial_decrypt_uses_only_the_guardian_share(run, ct):
    """The proof's public key is the guardian's verification key, not the joint key."""
    s = partial_decrypt(EID, LABEL, run.shares[2], ct, rng=random_scalar)
    verify_decryption_share(EID, LABEL, run.result.verification_keys[2], ct, s)
    with pytest.raises(InvalidShare):
        verify_decryption_share(EID, LABEL, run.result.joint_public_key, ct, s)
