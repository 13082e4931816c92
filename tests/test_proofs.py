"""Tests of crypto.proofs: Schnorr, Chaum–Pedersen (DLEQ), disjunctive (CDS) and batch checks."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto import proofs
from crypto.elgamal import encrypt
from crypto.errors import InvalidProof
from crypto.group import ORDER, G, base_mul, mul, random_scalar
from crypto.proofs import (
    DisjunctiveBranch,
    DisjunctiveProof,
    DleqProof,
    EquationBatch,
    SchnorrProof,
    prove_disjunctive,
    prove_dleq,
    prove_schnorr,
    verify_disjunctive,
    verify_dleq,
    verify_schnorr,
)
from crypto.transcript import Transcript

FAST = settings(max_examples=20, deadline=None)

SECRET = random_scalar()
KEY = base_mul(SECRET)


def ctx(election: str = "E-1", position: str = "p0"):
    return (("election_id", election.encode()), ("position", position.encode()))


CTX = ctx()
OTHER_ELECTION = ctx("E-2")
OTHER_POSITION = ctx("E-1", "p1")


def other_point():
    return base_mul(random_scalar())


def expect_invalid(expected_what: str, fn, *args, **kwargs) -> InvalidProof:
    with pytest.raises(InvalidProof) as info:
        fn(*args, **kwargs)
    assert info.value.what == expected_what
    return info.value


def expect_batch_fails(add_to_batch, immediate: bool = False) -> None:
    """The tampered proof hidden among valid ones: the batch as a whole must fail.

    ``immediate``: a disjunctive proof whose challenges do not sum to the Fiat–Shamir challenge
    is refused when it is added, before any equation is deferred.
    """
    batch = EquationBatch()
    for _ in range(3):
        x = random_scalar()
        verify_schnorr(prove_schnorr(x, base_mul(x), CTX), base_mul(x), CTX, batch=batch)
    if immediate:
        with pytest.raises(InvalidProof) as info:
            add_to_batch(batch)
        assert info.value.what == "disjunctive"
        assert "sum" in info.value.detail
        return
    add_to_batch(batch)
    for _ in range(2):
        x = random_scalar()
        verify_schnorr(prove_schnorr(x, base_mul(x), CTX), base_mul(x), CTX, batch=batch)
    with pytest.raises(InvalidProof) as info:
        batch.verify()
    assert info.value.what == "batch"


# --- Schnorr -----------------------------------------------------------------------------------

@pytest.fixture
def schnorr():
    x = random_scalar()
    pub = base_mul(x)
    return x, pub, prove_schnorr(x, pub, CTX)


def test_schnorr_valid(schnorr):
    _, pub, proof = schnorr
    assert verify_schnorr(proof, pub, CTX) is None
    batch = EquationBatch()
    verify_schnorr(proof, pub, CTX, batch=batch)
    assert len(batch) == 1
    batch.verify()


@FAST
@given(st.integers(min_value=1, max_value=ORDER - 1))
def test_schnorr_valid_any_secret(x):
    pub = base_mul(x)
    verify_schnorr(prove_schnorr(x, pub, CTX), pub, CTX)


def test_schnorr_commitment_replaced(schnorr):
    _, pub, proof = schnorr
    bad = replace(proof, commitment=other_point())
    expect_invalid("schnorr", verify_schnorr, bad, pub, CTX)
    expect_batch_fails(lambda b: verify_schnorr(bad, pub, CTX, batch=b))


@pytest.mark.parametrize("delta", [1, -1, ORDER - 1])
def test_schnorr_response_changed(schnorr, delta):
    _, pub, proof = schnorr
    bad = replace(proof, response=(proof.response + delta) % ORDER)
    expect_invalid("schnorr", verify_schnorr, bad, pub, CTX)
    expect_batch_fails(lambda b: verify_schnorr(bad, pub, CTX, batch=b))


def test_schnorr_wrong_public_key(schnorr):
    _, pub, proof = schnorr
    expect_invalid("schnorr", verify_schnorr, proof, pub + G, CTX)
    expect_invalid("schnorr", verify_schnorr, proof, -pub, CTX)
    expect_batch_fails(lambda b: verify_schnorr(proof, pub + G, CTX, batch=b))


@pytest.mark.parametrize("other", [OTHER_ELECTION, OTHER_POSITION, ()])
def test_schnorr_wrong_context(schnorr, other):
    _, pub, proof = schnorr
    expect_invalid("schnorr", verify_schnorr, proof, pub, other)
    expect_batch_fails(lambda b: verify_schnorr(proof, pub, other, batch=b))


def test_schnorr_what_is_reported(schnorr):
    _, pub, proof = schnorr
    err = expect_invalid("guardian[3].key_proof", verify_schnorr,
                         replace(proof, response=proof.response + 1), pub, CTX,
                         what="guardian[3].key_proof")
    assert "guardian[3].key_proof" in str(err)


def test_schnorr_wrong_secret():
    x = random_scalar()
    pub = base_mul(x)
    proof = prove_schnorr((x + 1) % ORDER, pub, CTX)
    expect_invalid("schnorr", verify_schnorr, proof, pub, CTX)


def test_schnorr_uses_rng():
    x = random_scalar()
    pub = base_mul(x)
    p1 = prove_schnorr(x, pub, CTX, rng=lambda: 12345)
    p2 = prove_schnorr(x, pub, CTX, rng=lambda: 12345)
    assert p1 == p2
    assert p1.commitment == base_mul(12345)
    verify_schnorr(p1, pub, CTX)


# --- DLEQ --------------------------------------------------------------------------------------

@pytest.fixture
def dleq():
    x = random_scalar()
    h = other_point()
    x_pub, y_pub, proof = prove_dleq(x, h, CTX)
    return x, h, x_pub, y_pub, proof


def test_dleq_valid(dleq):
    x, h, x_pub, y_pub, proof = dleq
    assert x_pub == base_mul(x) and y_pub == mul(x, h)
    assert verify_dleq(proof, x_pub, h, y_pub, CTX) is None
    batch = EquationBatch()
    verify_dleq(proof, x_pub, h, y_pub, CTX, batch=batch)
    assert len(batch) == 2
    batch.verify()


@pytest.mark.parametrize("field", ["commitment_g", "commitment_h"])
def test_dleq_commitment_replaced(dleq, field):
    _, h, x_pub, y_pub, proof = dleq
    bad = replace(proof, **{field: other_point()})
    expect_invalid("dleq", verify_dleq, bad, x_pub, h, y_pub, CTX)
    expect_batch_fails(lambda b: verify_dleq(bad, x_pub, h, y_pub, CTX, batch=b))


def test_dleq_commitments_swapped(dleq):
    _, h, x_pub, y_pub, proof = dleq
    bad = DleqProof(proof.commitment_h, proof.commitment_g, proof.response)
    expect_invalid("dleq", verify_dleq, bad, x_pub, h, y_pub, CTX)


def test_dleq_response_plus_one(dleq):
    _, h, x_pub, y_pub, proof = dleq
    bad = replace(proof, response=(proof.response + 1) % ORDER)
    expect_invalid("dleq", verify_dleq, bad, x_pub, h, y_pub, CTX)
    expect_batch_fails(lambda b: verify_dleq(bad, x_pub, h, y_pub, CTX, batch=b))


def test_dleq_wrong_statement(dleq):
    _, h, x_pub, y_pub, proof = dleq
    expect_invalid("dleq", verify_dleq, proof, x_pub + G, h, y_pub, CTX)  # wrong public key
    expect_invalid("dleq", verify_dleq, proof, x_pub, h + G, y_pub, CTX)  # wrong base
    expect_invalid("dleq", verify_dleq, proof, x_pub, h, y_pub + G, CTX)  # wrong image
    expect_invalid("dleq", verify_dleq, proof, y_pub, h, x_pub, CTX)  # X and Y swapped
    expect_batch_fails(lambda b: verify_dleq(proof, x_pub, h, y_pub + G, CTX, batch=b))


@pytest.mark.parametrize("other", [OTHER_ELECTION, OTHER_POSITION])
def test_dleq_wrong_context(dleq, other):
    _, h, x_pub, y_pub, proof = dleq
    expect_invalid("dleq", verify_dleq, proof, x_pub, h, y_pub, other)
    expect_batch_fails(lambda b: verify_dleq(proof, x_pub, h, y_pub, other, batch=b))


def test_dleq_unequal_logs_fail():
    """Y = x'·H with x' != x: an honest-looking proof cannot exist, a forged one fails."""
    x = random_scalar()
    h = other_point()
    x_pub, _, proof = prove_dleq(x, h, CTX)
    y_wrong = mul(x + 1, h)
    expect_invalid("dleq", verify_dleq, proof, x_pub, h, y_wrong, CTX)


def test_dleq_what_is_reported(dleq):
    _, h, x_pub, y_pub, proof = dleq
    expect_invalid("decryption_share[4]", verify_dleq, proof, x_pub, h, y_pub, OTHER_ELECTION,
                   what="decryption_share[4]")


# --- disjunctive -------------------------------------------------------------------------------

def make_disjunctive(m: int, values=(0, 1), context=CTX):
    ct, r = encrypt(KEY, m)
    proof = prove_disjunctive(KEY, ct, r, values, values.index(m), context)
    return ct, r, proof


@pytest.mark.parametrize("m", [0, 1])
def test_disjunctive_01_valid(m):
    ct, _, proof = make_disjunctive(m)
    assert len(proof.branches) == 2
    assert verify_disjunctive(proof, KEY, ct, (0, 1), CTX) is None
    batch = EquationBatch()
    verify_disjunctive(proof, KEY, ct, (0, 1), CTX, batch=batch)
    assert len(batch) == 4
    batch.verify()
    assert sum(b.challenge for b in proof.branches) % ORDER != 0


@FAST
@given(st.integers(0, 5), st.integers(1, 6), st.data())
def test_disjunctive_range_valid(lo, width, data):
    values = tuple(range(lo, lo + width))
    m = data.draw(st.sampled_from(values))
    ct, _, proof = make_disjunctive(m, values)
    verify_disjunctive(proof, KEY, ct, values, CTX)
    # the same proof does not verify for a shifted range
    shifted = tuple(v + 1 for v in values)
    with pytest.raises(InvalidProof):
        verify_disjunctive(proof, KEY, ct, shifted, CTX)


@pytest.mark.parametrize("m", [0, 1])
@pytest.mark.parametrize("j", [0, 1])
@pytest.mark.parametrize("field", ["a", "b"])
def test_disjunctive_commitment_replaced(m, j, field):
    ct, _, proof = make_disjunctive(m)
    branches = list(proof.branches)
    branches[j] = replace(branches[j], **{field: other_point()})
    bad = DisjunctiveProof(tuple(branches))
    expect_invalid("disjunctive", verify_disjunctive, bad, KEY, ct, (0, 1), CTX)
    expect_batch_fails(lambda b: verify_disjunctive(bad, KEY, ct, (0, 1), CTX, batch=b),
                       immediate=True)


@pytest.mark.parametrize("m", [0, 1])
@pytest.mark.parametrize("j", [0, 1])
@pytest.mark.parametrize("field", ["challenge", "response"])
def test_disjunctive_scalar_plus_one(m, j, field):
    ct, _, proof = make_disjunctive(m)
    branches = list(proof.branches)
    branches[j] = replace(branches[j], **{field: (getattr(branches[j], field) + 1) % ORDER})
    bad = DisjunctiveProof(tuple(branches))
    expect_invalid("disjunctive", verify_disjunctive, bad, KEY, ct, (0, 1), CTX)
    if field == "response":  # a challenge change fails the sum check before the batch
        expect_batch_fails(lambda b: verify_disjunctive(bad, KEY, ct, (0, 1), CTX, batch=b))


@pytest.mark.parametrize("m", [0, 1])
def test_disjunctive_challenges_shifted_keeping_sum(m):
    """c_0 + 1 and c_1 - 1 keeps the sum: only the branch equations can catch it."""
    ct, _, proof = make_disjunctive(m)
    b0, b1 = proof.branches
    bad = DisjunctiveProof((replace(b0, challenge=(b0.challenge + 1) % ORDER),
                            replace(b1, challenge=(b1.challenge - 1) % ORDER)))
    err = expect_invalid("disjunctive", verify_disjunctive, bad, KEY, ct, (0, 1), CTX)
    assert "sum" not in err.detail
    expect_batch_fails(lambda b: verify_disjunctive(bad, KEY, ct, (0, 1), CTX, batch=b))


def test_disjunctive_branches_swapped():
    ct, _, proof = make_disjunctive(1)
    bad = DisjunctiveProof(tuple(reversed(proof.branches)))
    expect_invalid("disjunctive", verify_disjunctive, bad, KEY, ct, (0, 1), CTX)


def test_disjunctive_wrong_public_key():
    ct, _, proof = make_disjunctive(1)
    expect_invalid("disjunctive", verify_disjunctive, proof, KEY + G, ct, (0, 1), CTX)
    expect_batch_fails(lambda b: verify_disjunctive(proof, KEY + G, ct, (0, 1), CTX, batch=b),
                       immediate=True)


def test_disjunctive_wrong_ciphertext():
    ct, _, proof = make_disjunctive(1)
    other, _ = encrypt(KEY, 1)
    expect_invalid("disjunctive", verify_disjunctive, proof, KEY, other, (0, 1), CTX)
    expect_invalid("disjunctive", verify_disjunctive, proof, KEY, ct + other, (0, 1), CTX)


@pytest.mark.parametrize("other", [OTHER_ELECTION, OTHER_POSITION])
def test_disjunctive_wrong_context(other):
    ct, _, proof = make_disjunctive(0)
    expect_invalid("disjunctive", verify_disjunctive, proof, KEY, ct, (0, 1), other)
    expect_batch_fails(lambda b: verify_disjunctive(proof, KEY, ct, (0, 1), other, batch=b),
                       immediate=True)


def test_disjunctive_wrong_values_same_length():
    ct, _, proof = make_disjunctive(1)
    expect_invalid("disjunctive", verify_disjunctive, proof, KEY, ct, (1, 2), CTX)
    expect_invalid("disjunctive", verify_disjunctive, proof, KEY, ct, (1, 0), CTX)


def test_disjunctive_wrong_number_of_branches():
    ct, _, proof = make_disjunctive(1)
    for branches in (proof.branches[:1], proof.branches + proof.branches[:1], ()):
        err = expect_invalid("disjunctive", verify_disjunctive, DisjunctiveProof(branches), KEY,
                             ct, (0, 1), CTX)
        assert "branches" in err.detail
        with pytest.raises(InvalidProof):
            verify_disjunctive(DisjunctiveProof(branches), KEY, ct, (0, 1), CTX,
                               batch=EquationBatch())


def test_proof_for_value_2_against_01():
    """A true proof that ct encrypts one of (0, 1, 2), verified as a 0/1 proof, fails."""
    ct, _, proof = make_disjunctive(2, (0, 1, 2))
    verify_disjunctive(proof, KEY, ct, (0, 1, 2), CTX)  # control: it is a valid 3-way proof
    expect_invalid("disjunctive", verify_disjunctive, proof, KEY, ct, (0, 1), CTX)
    # dropping the third branch does not help either
    expect_invalid("disjunctive", verify_disjunctive, DisjunctiveProof(proof.branches[:2]), KEY,
                   ct, (0, 1), CTX)


@pytest.mark.parametrize("claimed", [0, 1])
def test_forged_01_proof_for_ciphertext_of_2(claimed):
    """The prover knows the nonce but the plaintext is 2: claiming branch 0 or 1 fails."""
    ct, r = encrypt(KEY, 2)
    forged = prove_disjunctive(KEY, ct, r, (0, 1), claimed, CTX)
    expect_invalid("disjunctive", verify_disjunctive, forged, KEY, ct, (0, 1), CTX)
    expect_batch_fails(lambda b: verify_disjunctive(forged, KEY, ct, (0, 1), CTX, batch=b))


@pytest.mark.parametrize("m", [-1, 2, 5])
def test_forged_01_proof_for_other_plaintexts(m):
    ct, r = encrypt(KEY, m)
    for claimed in (0, 1):
        forged = prove_disjunctive(KEY, ct, r, (0, 1), claimed, CTX)
        expect_invalid("disjunctive", verify_disjunctive, forged, KEY, ct, (0, 1), CTX)


def test_prove_disjunctive_actual_out_of_range():
    ct, r = encrypt(KEY, 1)
    with pytest.raises(ValueError):
        prove_disjunctive(KEY, ct, r, (0, 1), 2, CTX)
    with pytest.raises(ValueError):
        prove_disjunctive(KEY, ct, r, (0, 1), -1, CTX)


def test_disjunctive_proofs_are_randomized():
    ct, r = encrypt(KEY, 1)
    p1 = prove_disjunctive(KEY, ct, r, (0, 1), 1, CTX)
    p2 = prove_disjunctive(KEY, ct, r, (0, 1), 1, CTX)
    assert p1 != p2
    verify_disjunctive(p1, KEY, ct, (0, 1), CTX)
    verify_disjunctive(p2, KEY, ct, (0, 1), CTX)


def test_disjunctive_branch_type():
    _, _, proof = make_disjunctive(0)
    assert all(isinstance(b, DisjunctiveBranch) for b in proof.branches)


# --- EquationBatch -----------------------------------------------------------------------------

def fill_valid_batch(batch: EquationBatch, count: int = 4) -> None:
    for i in range(count):
        x = random_scalar()
        verify_schnorr(prove_schnorr(x, base_mul(x), CTX), base_mul(x), CTX, batch=batch)
        h = other_point()
        xp, yp, dp = prove_dleq(x, h, CTX)
        verify_dleq(dp, xp, h, yp, CTX, batch=batch)
        ct, _, proof = make_disjunctive(i % 2)
        verify_disjunctive(proof, KEY, ct, (0, 1), CTX, batch=batch)


def test_batch_all_valid_passes():
    batch = EquationBatch()
    fill_valid_batch(batch)
    assert len(batch) == 4 * (1 + 2 + 4)
    assert batch.verify() is None


def test_empty_batch_passes():
    batch = EquationBatch()
    assert len(batch) == 0
    batch.verify()


@pytest.mark.parametrize("where", ["first", "middle", "last"])
def test_batch_one_bad_among_many(where):
    batch = EquationBatch()
    ct, _, proof = make_disjunctive(1)
    b0, b1 = proof.branches
    bad = DisjunctiveProof((b0, replace(b1, response=(b1.response + 1) % ORDER)))
    if where == "first":
        verify_disjunctive(bad, KEY, ct, (0, 1), CTX, batch=batch)
    fill_valid_batch(batch, 3)
    if where == "middle":
        verify_disjunctive(bad, KEY, ct, (0, 1), CTX, batch=batch)
    fill_valid_batch(batch, 3)
    if where == "last":
        verify_disjunctive(bad, KEY, ct, (0, 1), CTX, batch=batch)
    with pytest.raises(InvalidProof) as info:
        batch.verify()
    assert info.value.what == "batch"


def test_batch_raw_equations():
    batch = EquationBatch()
    x = random_scalar()
    p = base_mul(x)
    batch.add([(x, G), (-1, p)])  # x·G - P = O holds
    batch.verify()
    batch.add([(x + 1, G), (-1, p)])  # false
    with pytest.raises(InvalidProof):
        batch.verify()


def test_batch_weights_are_independent():
    """Two false equations that would cancel if both had the same weight must still fail."""
    batch = EquationBatch()
    batch.add([(1, G)])  # G == O   (false)
    batch.add([(-1, G)])  # -G == O (false)
    with pytest.raises(InvalidProof):
        batch.verify()


def test_batch_merges_terms_on_the_same_point():
    batch = EquationBatch()
    batch.add([(5, G), (-2, G), (-3, G)])  # 0·G == O
    assert len(batch) == 1
    batch.verify()


# --- strong Fiat–Shamir: every part of the statement is in the challenge ------------------------

def test_schnorr_challenge_covers_statement():
    r = other_point()
    x1, x2 = other_point(), other_point()
    c = proofs._schnorr_challenge(CTX, x1, r)
    assert c == proofs._schnorr_challenge(CTX, x1, r)
    assert c != proofs._schnorr_challenge(CTX, x2, r)  # the public key
    assert c != proofs._schnorr_challenge(CTX, x1, other_point())  # the commitment
    assert c != proofs._schnorr_challenge(OTHER_ELECTION, x1, r)  # the context


def test_weak_fiat_shamir_forgery_is_refused():
    """Pick R and z first, then solve for X from a challenge that omits X (the Helios flaw).

    Such an X has a "proof" without anyone knowing its log; the strong transcript refuses it.
    """
    r, z = other_point(), random_scalar()
    weak = Transcript(proofs.LABEL_SCHNORR, CTX).append_point("G", G).append_point("R", r)
    c = weak.challenge()
    x_pub = mul(pow(c, -1, ORDER), base_mul(z) - r)  # z·G = R + c·X
    assert base_mul(z) == r + mul(c, x_pub)
    expect_invalid("schnorr", verify_schnorr, SchnorrProof(r, z), x_pub, CTX)


def test_dleq_challenge_covers_statement():
    pts = [other_point() for _ in range(5)]
    c = proofs._dleq_challenge(CTX, *pts)
    for i in range(5):
        changed = list(pts)
        changed[i] = other_point()
        assert proofs._dleq_challenge(CTX, *changed) != c, i
    assert proofs._dleq_challenge(OTHER_ELECTION, *pts) != c


def test_disjunctive_challenge_covers_statement():
    ct, _ = encrypt(KEY, 1)
    commits = [(other_point(), other_point()), (other_point(), other_point())]
    c = proofs._disjunctive_challenge(CTX, KEY, ct, (0, 1), commits)
    variants = [
        (CTX, KEY + G, ct, (0, 1), commits),
        (CTX, KEY, replace(ct, alpha=ct.alpha + G), (0, 1), commits),
        (CTX, KEY, replace(ct, beta=ct.beta + G), (0, 1), commits),
        (CTX, KEY, ct, (0, 2), commits),
        (CTX, KEY, ct, (1, 0), commits),
        (CTX, KEY, ct, (0, 1), [commits[0], (commits[1][0], other_point())]),
        (CTX, KEY, ct, (0, 1), [(other_point(), commits[0][1]), commits[1]]),
        (CTX, KEY, ct, (0, 1), commits[::-1]),
        (OTHER_POSITION, KEY, ct, (0, 1), commits),
    ]
    for v in variants:
        assert proofs._disjunctive_challenge(*v) != c
