"""Tests of crypto.dkg: Joint-Feldman DKG with encrypted shares and public complaints (5 of 3)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto import dkg as dkg_mod
from crypto.dkg import (
    Complaint,
    Dealing,
    DkgParameters,
    EncryptedShare,
    GuardianPublicKey,
    Polynomial,
    Verdict,
    combine_shares,
    commitments_hash,
    deal,
    dkg_result,
    expected_share_point,
    generate_guardian_key,
    judge_complaint,
    make_complaint,
    qualified_dealers,
    receive_share,
    verify_dealing,
    verify_guardian_key,
)
from crypto.elgamal import encrypt
from crypto.errors import DkgError, InvalidProof, InvalidShare
from crypto.group import ORDER, G, base_mul, encode_scalar, mul, point_sum, random_scalar
from crypto.proofs import DleqProof, SchnorrProof
from crypto.threshold import lagrange_at_zero, partial_decrypt, threshold_decrypt
from tests.support.dkg import DkgRun, run_dkg

FAST = settings(max_examples=25, deadline=None)
BAD_DEALER = 3
VICTIM = 2


@pytest.fixture(scope="module")
def run() -> DkgRun:
    return run_dkg("dkg-test-election", 5, 3)


def encrypted_share_of(run: DkgRun, dealing: Dealing, recipient: int, value: int) -> EncryptedShare:
    """A correctly encrypted (right key, right AAD) share carrying an arbitrary value."""
    params = run.params
    y = random_scalar()
    ephemeral = base_mul(y)
    rkey = run.keys[recipient].public.encryption_key
    key, nonce = dkg_mod._share_key(params, dealing.dealer, recipient, ephemeral, rkey,
                                    mul(y, rkey))
    ct = AESGCM(key).encrypt(nonce, encode_scalar(value),
                             dkg_mod._share_aad(params, dealing.dealer, recipient,
                                                dealing.commitments))
    return EncryptedShare(recipient, ephemeral, ct)


def with_share(dealing: Dealing, index: int, share: EncryptedShare) -> Dealing:
    shares = list(dealing.shares)
    shares[index] = share
    return replace(dealing, shares=tuple(shares))


@pytest.fixture(scope="module")
def bad_dealing(run) -> Dealing:
    """Dealer 3's dealing with guardian 2's share replaced by a well-encrypted wrong value."""
    good = run.dealings[BAD_DEALER - 1]
    wrong = (run.polys[BAD_DEALER](VICTIM) + 1) % ORDER
    return with_share(good, VICTIM - 1, encrypted_share_of(run, good, VICTIM, wrong))


# --- parameters and guardian keys ----------------------------------------------------------------

@pytest.mark.parametrize("n,t", [(5, 0), (3, 4), (256, 2), (0, 0)])
def test_parameters_validation(n, t):
    with pytest.raises(ValueError):
        DkgParameters("E", n, t)


def test_parameters_accepted_edges():
    DkgParameters("E", 1, 1)
    DkgParameters("E", 255, 255)
    with pytest.raises(ValueError):
        DkgParameters("", 5, 3)


@pytest.mark.parametrize("i", [0, 6, -1])
def test_check_index(run, i):
    with pytest.raises(DkgError):
        run.params.check_index(i)
    with pytest.raises(DkgError):
        generate_guardian_key(run.params, i)


def test_guardian_keys_verify(run):
    for i, kp in run.keys.items():
        assert kp.index == kp.public.index == i
        assert kp.public.encryption_key == base_mul(kp.secret)
        verify_guardian_key(run.params, kp.public)


def test_guardian_key_proof_tampered(run):
    pub = run.keys[3].public
    bad = replace(pub, proof=replace(pub.proof, response=(pub.proof.response + 1) % ORDER))
    with pytest.raises(InvalidProof) as info:
        verify_guardian_key(run.params, bad)
    assert info.value.what == "guardian[3].key_proof"
    bad = replace(pub, proof=replace(pub.proof, commitment=pub.proof.commitment + G))
    with pytest.raises(InvalidProof):
        verify_guardian_key(run.params, bad)


def test_guardian_key_proof_bound_to_index_and_election(run):
    pub = run.keys[3].public
    with pytest.raises(InvalidProof) as info:
        verify_guardian_key(run.params, replace(pub, index=4))
    assert info.value.what == "guardian[4].key_proof"
    with pytest.raises(InvalidProof):
        verify_guardian_key(DkgParameters("another-election", 5, 3), pub)
    with pytest.raises(InvalidProof):
        verify_guardian_key(DkgParameters(run.params.election_id, 5, 2), pub)
    with pytest.raises(InvalidProof):  # a key copied from guardian 3 without its secret
        verify_guardian_key(run.params, replace(run.keys[4].public,
                                                encryption_key=pub.encryption_key))


def test_guardian_key_index_out_of_range(run):
    with pytest.raises(DkgError):
        verify_guardian_key(run.params, replace(run.keys[1].public, index=9))


def test_deal_needs_every_key(run):
    with pytest.raises(DkgError):
        deal(run.params, 1, run.publics[:4])
    dup = run.publics[:4] + [run.publics[0]]
    with pytest.raises(DkgError):
        deal(run.params, 1, dup)
    with pytest.raises(DkgError):
        deal(run.params, 6, run.publics)


# --- the honest run ------------------------------------------------------------------------------

@FAST
@given(st.lists(st.integers(0, ORDER - 1), min_size=1, max_size=6), st.integers(0, 300))
def test_polynomial_evaluation(coeffs, x):
    expected = sum(a * x**k for k, a in enumerate(coeffs)) % ORDER
    assert Polynomial(tuple(coeffs))(x) == expected


def test_dealings_are_public_and_valid(run):
    for d in run.dealings:
        verify_dealing(run.params, d)
        assert len(d.commitments) == 3
        assert [s.recipient for s in d.shares] == [1, 2, 3, 4, 5]
        assert all(len(s.ciphertext) == 48 for s in d.shares)
        poly = run.polys[d.dealer]
        assert d.commitments == tuple(base_mul(a) for a in poly.coefficients)
        for j in range(1, 6):
            assert expected_share_point(d.commitments, j) == base_mul(poly(j))


def test_received_shares_are_the_polynomial_values(run):
    for j in range(1, 6):
        for i in range(1, 6):
            assert run.received[j][i] == run.polys[i](j)


def test_result_qualifies_everyone(run):
    assert run.result.qualified == (1, 2, 3, 4, 5)
    assert qualified_dealers(run.params, run.dealings, []) == (1, 2, 3, 4, 5)


def test_joint_key_is_sum_of_constant_commitments(run):
    joint = point_sum(d.commitments[0] for d in run.dealings)
    assert run.result.joint_public_key == joint
    # oracle only available to a test: the dealers' constants
    assert joint == base_mul(sum(p.coefficients[0] for p in run.polys.values()))


def test_every_combined_share_matches_its_verification_key(run):
    for j, share in run.shares.items():
        assert share.index == j
        assert base_mul(share.secret) == run.result.verification_keys[j]
        assert share.secret == sum(run.polys[i](j) for i in range(1, 6)) % ORDER
    assert len(set(s.secret for s in run.shares.values())) == 5


def test_shares_interpolate_to_the_joint_key(run):
    """Any t combined shares are points on one polynomial whose value at 0 is the joint secret."""
    for subset in ((1, 2, 3), (2, 4, 5), (1, 3, 5)):
        lam = lagrange_at_zero(subset)
        assert base_mul(sum(lam[j] * run.shares[j].secret for j in subset)) \
            == run.result.joint_public_key
    lam = lagrange_at_zero((1, 2))  # t - 1 shares do not
    assert base_mul(lam[1] * run.shares[1].secret + lam[2] * run.shares[2].secret) \
        != run.result.joint_public_key


def test_combine_shares_checks(run):
    received = dict(run.received[1])
    del received[4]
    with pytest.raises(DkgError):
        combine_shares(run.result, 1, received)
    received = dict(run.received[1])
    received[4] = (received[4] + 1) % ORDER
    with pytest.raises(DkgError):
        combine_shares(run.result, 1, received)
    with pytest.raises(DkgError):  # guardian 2's shares claimed as guardian 1's
        combine_shares(run.result, 1, run.received[2])


def test_commitments_hash():
    pts = (base_mul(1), base_mul(2))
    assert commitments_hash(pts) != commitments_hash(pts[::-1])
    assert len(commitments_hash(pts)) == 32


# --- bad shares, complaints, disqualification ------------------------------------------------

def test_bad_share_raises_invalid_share_naming_dealer(run, bad_dealing):
    verify_dealing(run.params, bad_dealing)  # publicly nothing is wrong
    with pytest.raises(InvalidShare) as info:
        receive_share(run.params, run.keys[VICTIM], bad_dealing)
    assert info.value.guardian == BAD_DEALER
    assert "commitments" in info.value.detail
    for j in (1, 3, 4, 5):  # the other guardians' shares are fine
        assert receive_share(run.params, run.keys[j], bad_dealing) == run.polys[BAD_DEALER](j)


def test_spliced_share_from_another_polynomial(run):
    """Dealer 3 deals again with another polynomial; its share for guardian 2 is spliced in."""
    good = run.dealings[BAD_DEALER - 1]
    other, other_poly = deal(run.params, BAD_DEALER, run.publics)
    assert other_poly(VICTIM) != run.polys[BAD_DEALER](VICTIM)
    spliced = with_share(good, VICTIM - 1, other.shares[VICTIM - 1])
    with pytest.raises(InvalidShare) as info:
        receive_share(run.params, run.keys[VICTIM], spliced)
    assert info.value.guardian == BAD_DEALER
    complaint = make_complaint(run.params, run.keys[VICTIM], spliced)
    assert judge_complaint(run.params, complaint, spliced, run.publics) is Verdict.UPHELD


def test_share_sent_to_the_wrong_recipient(run):
    """Guardian 1's share placed in guardian 2's slot does not open for guardian 2."""
    good = run.dealings[0]
    moved = with_share(good, 1, replace(good.shares[0], recipient=2))
    with pytest.raises(InvalidShare) as info:
        receive_share(run.params, run.keys[2], moved)
    assert info.value.guardian == 1


def test_share_ciphertext_tampered(run):
    good = run.dealings[4]
    s = good.shares[VICTIM - 1]
    flipped = bytes([s.ciphertext[0] ^ 1]) + s.ciphertext[1:]
    bad = with_share(good, VICTIM - 1, replace(s, ciphertext=flipped))
    with pytest.raises(InvalidShare) as info:
        receive_share(run.params, run.keys[VICTIM], bad)
    assert info.value.guardian == 5
    assert "decrypt" in info.value.detail


def test_upheld_complaint_excludes_dealer_and_result_still_works(run, bad_dealing):
    dealings = list(run.dealings)
    dealings[BAD_DEALER - 1] = bad_dealing
    complaint = make_complaint(run.params, run.keys[VICTIM], bad_dealing)
    assert complaint.dealer == BAD_DEALER and complaint.complainer == VICTIM
    assert judge_complaint(run.params, complaint, bad_dealing, run.publics) is Verdict.UPHELD

    result = dkg_result(run.params, dealings, [complaint])
    assert result.qualified == (1, 2, 4, 5)
    assert BAD_DEALER not in result.qualified
    joint = point_sum(run.dealings[i - 1].commitments[0] for i in (1, 2, 4, 5))
    assert result.joint_public_key == joint
    assert result.joint_public_key != run.result.joint_public_key

    # every guardian (the victim included) combines without the bad dealer's share
    shares = {}
    for j in range(1, 6):
        received = {i: v for i, v in run.received[j].items() if i != BAD_DEALER}
        shares[j] = combine_shares(result, j, received)
    with pytest.raises(DkgError):  # the old result still expects the bad dealer's share
        combine_shares(run.result, 1, {i: v for i, v in run.received[1].items()
                                       if i != BAD_DEALER})
    # and threshold decryption under the new joint key works
    ct, _ = encrypt(result.joint_public_key, 7)
    dshares = [partial_decrypt(run.params.election_id, "x", shares[j], ct) for j in (2, 3, 5)]
    m_point = threshold_decrypt(run.params.election_id, "x", ct, dshares,
                                result.verification_keys, 3)
    assert m_point == base_mul(7)


def test_false_complaint_is_dismissed(run):
    good = run.dealings[3]
    complaint = make_complaint(run.params, run.keys[VICTIM], good)
    assert judge_complaint(run.params, complaint, good, run.publics) is Verdict.DISMISSED


def test_complaint_with_tampered_dleq_proof(run, bad_dealing):
    complaint = make_complaint(run.params, run.keys[VICTIM], bad_dealing)
    p = complaint.proof
    for bad_proof in (replace(p, response=(p.response + 1) % ORDER),
                      replace(p, commitment_g=p.commitment_g + G),
                      replace(p, commitment_h=p.commitment_h + G),
                      DleqProof(p.commitment_h, p.commitment_g, p.response)):
        with pytest.raises(InvalidProof) as info:
            judge_complaint(run.params, replace(complaint, proof=bad_proof), bad_dealing,
                            run.publics)
        assert info.value.what == f"complaint[{BAD_DEALER}<-{VICTIM}]"


def test_complaint_with_wrong_shared_point(run):
    """A complainer cannot frame an honest dealer by revealing a wrong ECDH point."""
    good = run.dealings[0]
    complaint = make_complaint(run.params, run.keys[VICTIM], good)
    forged = replace(complaint, shared_point=complaint.shared_point + G)
    with pytest.raises(InvalidProof):
        judge_complaint(run.params, forged, good, run.publics)


def test_complaint_in_another_guardians_name(run, bad_dealing):
    complaint = make_complaint(run.params, run.keys[VICTIM], bad_dealing)
    with pytest.raises(InvalidProof):
        judge_complaint(run.params, replace(complaint, complainer=4), bad_dealing, run.publics)


def test_complaint_about_another_dealing(run, bad_dealing):
    complaint = make_complaint(run.params, run.keys[VICTIM], bad_dealing)
    with pytest.raises(DkgError):
        judge_complaint(run.params, complaint, run.dealings[0], run.publics)
    with pytest.raises(DkgError):
        judge_complaint(run.params, replace(complaint, complainer=6), bad_dealing, run.publics)


def test_complaint_bound_to_election(run):
    """A complaint's DLEQ proof made for one election does not verify in another."""
    other = DkgParameters("another-election", 5, 3)
    dealing, _ = deal(other, BAD_DEALER, run.publics)  # publicly valid in `other`
    verify_dealing(other, dealing)
    complaint = make_complaint(run.params, run.keys[VICTIM], dealing)
    with pytest.raises(InvalidProof):
        judge_complaint(other, complaint, dealing, run.publics)
    honest = make_complaint(other, run.keys[VICTIM], dealing)
    assert judge_complaint(other, honest, dealing, run.publics) is Verdict.DISMISSED


def test_judging_under_other_parameters_fails_the_dealing(run, bad_dealing):
    """Under another election's parameters the dealing's constant proof is itself invalid."""
    complaint = make_complaint(run.params, run.keys[VICTIM], run.dealings[0])
    other = DkgParameters("another-election", 5, 3)
    assert judge_complaint(other, complaint, run.dealings[0], run.publics) is Verdict.UPHELD


def test_complaint_against_publicly_bad_dealing_is_upheld(run):
    d = run.dealings[0]
    bad = replace(d, constant_proof=replace(d.constant_proof,
                                            response=(d.constant_proof.response + 1) % ORDER))
    complaint = make_complaint(run.params, run.keys[VICTIM], bad)
    assert judge_complaint(run.params, complaint, bad, run.publics) is Verdict.UPHELD


def bad_public_dealings(run) -> dict[str, Dealing]:
    d = run.dealings[BAD_DEALER - 1]
    cp = d.constant_proof
    s0 = d.shares[0]
    return {
        "constant_proof_response": replace(
            d, constant_proof=SchnorrProof(cp.commitment, (cp.response + 1) % ORDER)),
        "constant_proof_commitment": replace(
            d, constant_proof=SchnorrProof(cp.commitment + G, cp.response)),
        "constant_proof_of_other_dealer": replace(d, constant_proof=run.dealings[0].constant_proof),
        "too_few_commitments": replace(d, commitments=d.commitments[:2]),
        "too_many_commitments": replace(d, commitments=d.commitments + (base_mul(5),)),
        "no_commitments": replace(d, commitments=()),
        "shares_out_of_order": replace(d, shares=(d.shares[1], d.shares[0]) + d.shares[2:]),
        "missing_share": replace(d, shares=d.shares[:4]),
        "short_share": with_share(d, 0, replace(s0, ciphertext=s0.ciphertext[:47])),
        "constant_replaced": replace(d, commitments=(base_mul(1),) + d.commitments[1:]),
    }


BAD_DEALING_NAMES = [
    "constant_proof_response", "constant_proof_commitment", "constant_proof_of_other_dealer",
    "too_few_commitments", "too_many_commitments", "no_commitments", "shares_out_of_order",
    "missing_share", "short_share", "constant_replaced"]


def test_bad_dealing_names_cover_the_table(run):
    assert sorted(bad_public_dealings(run)) == sorted(BAD_DEALING_NAMES)


@pytest.mark.parametrize("name", BAD_DEALING_NAMES)
def test_publicly_bad_dealing_is_excluded(run, name):
    bad = bad_public_dealings(run)[name]
    with pytest.raises((DkgError, InvalidProof)):
        verify_dealing(run.params, bad)
    dealings = list(run.dealings)
    dealings[BAD_DEALER - 1] = bad
    assert qualified_dealers(run.params, dealings, []) == (1, 2, 4, 5)
    result = dkg_result(run.params, dealings, [])
    assert result.qualified == (1, 2, 4, 5)
    assert result.joint_public_key == point_sum(run.dealings[i - 1].commitments[0]
                                                for i in (1, 2, 4, 5))


def test_bad_constant_proof_error_type(run):
    bad = bad_public_dealings(run)["constant_proof_response"]
    with pytest.raises(InvalidProof) as info:
        verify_dealing(run.params, bad)
    assert info.value.what == f"dealer[{BAD_DEALER}].constant_proof"
    with pytest.raises(InvalidProof):
        receive_share(run.params, run.keys[1], bad)
    with pytest.raises(DkgError):
        verify_dealing(run.params, bad_public_dealings(run)["too_few_commitments"])


def test_dealer_index_out_of_range_is_excluded(run):
    d = replace(run.dealings[0], dealer=6)
    with pytest.raises(DkgError):
        verify_dealing(run.params, d)
    assert qualified_dealers(run.params, list(run.dealings[1:]) + [d], []) == (2, 3, 4, 5)


def test_dealer_relabelled_fails_constant_proof(run):
    """Dealer 1's dealing presented as dealer 3's (dealer 3 absent): bound by the proof."""
    d = replace(run.dealings[0], dealer=3)
    with pytest.raises(InvalidProof):
        verify_dealing(run.params, d)


def test_dealing_twice_is_an_error(run):
    with pytest.raises(DkgError):
        qualified_dealers(run.params, list(run.dealings) + [run.dealings[2]], [])


def test_fewer_than_t_qualified_dealers(run):
    dealings = list(run.dealings)
    # three dealers excluded: two by upheld complaints, one by a bad public dealing
    bad = bad_public_dealings(run)["too_few_commitments"]
    dealings[BAD_DEALER - 1] = bad
    upheld = [make_complaint(run.params, run.keys[VICTIM], run.dealings[0]),
              make_complaint(run.params, run.keys[VICTIM], run.dealings[4])]
    assert qualified_dealers(run.params, dealings, upheld) == (2, 4)
    with pytest.raises(DkgError):
        dkg_result(run.params, dealings, upheld)
    # exactly t qualified is enough
    assert dkg_result(run.params, dealings, upheld[:1]).qualified == (2, 4, 5)


def test_no_dealings(run):
    with pytest.raises(DkgError):
        dkg_result(run.params, [], [])


def test_single_guardian_dkg():
    r = run_dkg("solo", 1, 1)
    assert r.result.qualified == (1,)
    assert base_mul(r.shares[1].secret) == r.result.joint_public_key


def test_complaint_type_fields(run, bad_dealing):
    c = make_complaint(run.params, run.keys[VICTIM], bad_dealing)
    assert isinstance(c, Complaint)
    eph = bad_dealing.shares[VICTIM - 1].ephemeral
    assert c.shared_point == mul(run.keys[VICTIM].secret, eph)


def test_guardian_public_key_type(run):
    assert all(isinstance(k, GuardianPublicKey) for k in run.publics)
