"""Tests of crypto.ballot and crypto.codec: contests, encrypted ballots, their proofs and bytes."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from itertools import count

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.ballot import (
    MAX_OPTIONS,
    REFERENDUM_OPTIONS,
    Contest,
    ContestKind,
    ElectionContext,
    EncryptedBallot,
    EncryptedSelection,
    encrypt_ballot,
    proof_context,
    verify_ballot,
)
from crypto.codec import (
    BALLOT_VERSION,
    decode_ballot,
    decode_ciphertext,
    decode_disjunctive,
    decode_dleq,
    decode_schnorr,
    encode_ballot,
    encode_ciphertext,
    encode_disjunctive,
    encode_dleq,
    encode_schnorr,
)
from crypto.elgamal import add_all, decrypt_to_point, encrypt
from crypto.encoding import lp
from crypto.errors import DecodeError, InvalidBallot
from crypto.group import ORDER, base_mul, encode_point, random_scalar
from crypto.proofs import DisjunctiveProof, prove_disjunctive, prove_dleq, prove_schnorr
from tests.support.curve import off_curve_encoding, order_bytes

FAST = settings(max_examples=20, deadline=None)

SECRET = random_scalar()
KEY = base_mul(SECRET)
OTHER_KEY = base_mul(random_scalar())
TOKEN = bytes(range(32))
OTHER_TOKEN = bytes(range(100, 132))
CANDIDATES = ("Ann", "Bo", "Chen", "Dai", "Eve")

REFERENDUM = ElectionContext("estate-7/2025-gate", Contest.referendum(), KEY)
COMMITTEE = ElectionContext("estate-7/2025-committee", Contest.committee(CANDIDATES, 1, 3), KEY)


def expect_invalid(election: ElectionContext, ballot: EncryptedBallot, check: str) -> None:
    with pytest.raises(InvalidBallot) as info:
        verify_ballot(election, ballot)
    assert info.value.check == check, info.value
    assert info.value.detail


def plaintexts(ballot: EncryptedBallot) -> list[int]:
    out = []
    for sel in ballot.selections:
        p = decrypt_to_point(SECRET, sel.ciphertext)
        out.append(0 if p.is_infinite() else 1 if p == base_mul(1) else -1)
    return out


def handmade(election: ElectionContext, token: bytes, values: list[int], *,
             limit_values: tuple[int, ...] | None = None, limit_claim: int | None = None,
             selection_claims: dict[int, int] | None = None) -> EncryptedBallot:
    """Build a ballot by hand with encrypt/prove_disjunctive, allowing any plaintexts.

    A selection whose plaintext is not 0/1 gets a 0/1 proof that (falsely) claims
    ``selection_claims[i]`` (default 1); the limit proof is over ``limit_values`` (default the
    contest's) and claims ``limit_claim`` (default: the true sum's index, else 0).
    """
    selection_claims = selection_claims or {}
    sels, nonce_sum = [], 0
    for i, m in enumerate(values):
        ct, r = encrypt(election.public_key, m)
        nonce_sum += r
        claim = m if m in (0, 1) else selection_claims.get(i, 1)
        proof = prove_disjunctive(election.public_key, ct, r, (0, 1), claim,
                                  proof_context(election, token, f"selection[{i}]"))
        sels.append(EncryptedSelection(ct, proof))
    values_ = limit_values if limit_values is not None else election.contest.limit_values
    total = sum(values)
    if limit_claim is None:
        limit_claim = values_.index(total) if total in values_ else 0
    total_ct = add_all(s.ciphertext for s in sels)
    limit = prove_disjunctive(election.public_key, total_ct, nonce_sum, values_, limit_claim,
                              proof_context(election, token, "contest-limit"))
    return EncryptedBallot(election.election_id, election.hash, bytes(token), tuple(sels), limit)


@pytest.fixture(scope="module")
def ref_ballot() -> EncryptedBallot:
    return encrypt_ballot(REFERENDUM, TOKEN, [1])


@pytest.fixture(scope="module")
def com_ballot() -> EncryptedBallot:
    return encrypt_ballot(COMMITTEE, TOKEN, [0, 3])


# --- contests ----------------------------------------------------------------------------------

def test_referendum_contest():
    c = Contest.referendum()
    assert c.kind is ContestKind.REFERENDUM
    assert c.options == REFERENDUM_OPTIONS == ("approve", "oppose", "abstain")
    assert c.limit_values == (1,)


def test_committee_contest_limit_values():
    assert Contest.committee(CANDIDATES, 1, 3).limit_values == (1, 2, 3)
    assert Contest.committee(CANDIDATES, 0, 5).limit_values == (0, 1, 2, 3, 4, 5)
    assert Contest.committee(["a"], 1, 1).limit_values == (1,)


@pytest.mark.parametrize("options,lo,hi", [
    (("yes", "no", "abstain"), 1, 1),
    (("approve", "oppose"), 1, 1),
    (("approve", "oppose", "abstain", "other"), 1, 1),
    (("oppose", "approve", "abstain"), 1, 1),
    (REFERENDUM_OPTIONS, 0, 1),
    (REFERENDUM_OPTIONS, 1, 2),
    (REFERENDUM_OPTIONS, 0, 0),
])
def test_referendum_must_be_exactly_one_of_three(options, lo, hi):
    with pytest.raises(ValueError):
        Contest(ContestKind.REFERENDUM, options, lo, hi)


@pytest.mark.parametrize("candidates,lo,hi", [
    (CANDIDATES, 3, 2),  # min > max
    (CANDIDATES, -1, 2),  # negative min
    (CANDIDATES, 1, 6),  # max > number of options
    (("Ann", "Bo", "Ann"), 1, 1),  # duplicate names
    (("Ann", ""), 1, 1),  # empty name
    ((), 0, 0),  # no options
    (tuple(f"c{i}" for i in range(MAX_OPTIONS + 1)), 1, 1),  # too many options
])
def test_committee_contest_validation(candidates, lo, hi):
    with pytest.raises(ValueError):
        Contest.committee(candidates, lo, hi)


def test_committee_contest_limits_accepted():
    Contest.committee(tuple(f"c{i}" for i in range(MAX_OPTIONS)), 0, MAX_OPTIONS)
    Contest.committee(CANDIDATES, 0, 0)
    Contest.committee(CANDIDATES, 5, 5)


def test_election_context_validation():
    with pytest.raises(ValueError):
        ElectionContext("", Contest.referendum(), KEY)
    with pytest.raises(ValueError):
        ElectionContext("x" * 129, Contest.referendum(), KEY)
    with pytest.raises(ValueError):
        ElectionContext("é" * 65, Contest.referendum(), KEY)  # 130 bytes of UTF-8
    ElectionContext("x" * 128, Contest.referendum(), KEY)


def test_election_hash_layout():
    c = Contest.committee(["a", "bc"], 0, 2)
    canonical = (lp(b"committee") + (2).to_bytes(4, "big") + lp(b"a") + lp(b"bc")
                 + (0).to_bytes(4, "big") + (2).to_bytes(4, "big"))
    assert c.canonical_bytes() == canonical
    e = ElectionContext("E", c, KEY)
    assert e.hash == hashlib.sha256(lp(b"ownervote/v1/election") + lp(b"E") + lp(canonical)
                                    + lp(encode_point(KEY))).digest()


def test_election_hash_binds_everything():
    base = ElectionContext("E", Contest.committee(CANDIDATES, 1, 3), KEY)
    variants = [
        ElectionContext("E2", base.contest, KEY),
        ElectionContext("E", Contest.committee(CANDIDATES, 1, 2), KEY),
        ElectionContext("E", Contest.committee(CANDIDATES, 0, 3), KEY),
        ElectionContext("E", Contest.committee(CANDIDATES[::-1], 1, 3), KEY),
        ElectionContext("E", Contest.committee(CANDIDATES[:4], 1, 3), KEY),
        ElectionContext("E", base.contest, OTHER_KEY),
    ]
    hashes = {base.hash} | {v.hash for v in variants}
    assert len(hashes) == len(variants) + 1
    assert ElectionContext("E", Contest.committee(CANDIDATES, 1, 3), KEY).hash == base.hash


# --- honest ballots ----------------------------------------------------------------------------

@pytest.mark.parametrize("choice", [0, 1, 2])
def test_referendum_round_trip(choice):
    b = encrypt_ballot(REFERENDUM, TOKEN, [choice])
    assert verify_ballot(REFERENDUM, b) is None
    assert plaintexts(b) == [int(i == choice) for i in range(3)]
    assert len(b.limit_proof.branches) == 1
    assert all(len(s.proof.branches) == 2 for s in b.selections)
    data = encode_ballot(b)
    decoded = decode_ballot(data)
    assert encode_ballot(decoded) == data
    assert decoded == b
    verify_ballot(REFERENDUM, decoded)


@FAST
@given(st.sets(st.integers(0, 4), min_size=1, max_size=3))
def test_committee_round_trip(chosen):
    b = encrypt_ballot(COMMITTEE, TOKEN, sorted(chosen))
    verify_ballot(COMMITTEE, b)
    assert plaintexts(b) == [int(i in chosen) for i in range(5)]
    assert len(b.limit_proof.branches) == 3
    data = encode_ballot(b)
    decoded = decode_ballot(data)
    assert encode_ballot(decoded) == data
    verify_ballot(COMMITTEE, decoded)


def test_committee_choice_order_does_not_matter():
    a = encrypt_ballot(COMMITTEE, TOKEN, [4, 0, 2])
    verify_ballot(COMMITTEE, a)
    assert plaintexts(a) == [1, 0, 1, 0, 1]


def test_committee_with_min_zero_allows_blank():
    e = ElectionContext("blank-ok", Contest.committee(CANDIDATES, 0, 2), KEY)
    b = encrypt_ballot(e, TOKEN, [])
    verify_ballot(e, b)
    assert plaintexts(b) == [0] * 5
    verify_ballot(e, decode_ballot(encode_ballot(b)))


def test_handmade_honest_ballots_verify():
    """Positive controls for every hand-built negative below."""
    verify_ballot(REFERENDUM, handmade(REFERENDUM, TOKEN, [0, 1, 0]))
    verify_ballot(COMMITTEE, handmade(COMMITTEE, TOKEN, [1, 1, 0, 1, 0]))


def test_deterministic_rng_gives_identical_bytes():
    def source():
        c = count(1)
        return lambda: next(c) * 7919 % ORDER
    a = encrypt_ballot(COMMITTEE, TOKEN, [1, 2], rng=source())
    b = encrypt_ballot(COMMITTEE, TOKEN, [1, 2], rng=source())
    assert encode_ballot(a) == encode_ballot(b)
    verify_ballot(COMMITTEE, a)


def test_ballots_are_randomized():
    a = encrypt_ballot(REFERENDUM, TOKEN, [0])
    b = encrypt_ballot(REFERENDUM, TOKEN, [0])
    assert encode_ballot(a) != encode_ballot(b)


# --- encrypt_ballot refuses invalid choices ------------------------------------------------------

@pytest.mark.parametrize("election,choices", [
    (REFERENDUM, [0, 0]),  # duplicate
    (REFERENDUM, [3]),  # out of range
    (REFERENDUM, [-1]),
    (REFERENDUM, [0, 1]),  # too many
    (REFERENDUM, []),  # too few
    (COMMITTEE, [0, 1, 2, 3]),  # more than max
    (COMMITTEE, []),  # fewer than min
    (COMMITTEE, [1, 1]),
    (COMMITTEE, [5]),
])
def test_encrypt_ballot_refuses_invalid_choices(election, choices):
    with pytest.raises(ValueError):
        encrypt_ballot(election, TOKEN, choices)


@pytest.mark.parametrize("length", [0, 31, 33, 64])
def test_encrypt_ballot_refuses_bad_token_length(length):
    with pytest.raises(ValueError):
        encrypt_ballot(REFERENDUM, b"\x01" * length, [0])


# --- binding: election, contest, key, token, position --------------------------------------------

def test_ballot_for_another_election_id(ref_ballot):
    other = ElectionContext("estate-8/2025-gate", Contest.referendum(), KEY)
    expect_invalid(other, ref_ballot, "election_id")
    b = encrypt_ballot(other, TOKEN, [0])
    expect_invalid(REFERENDUM, b, "election_id")
    # relabelling the ballot does not help: its proofs are bound to the other election
    relabelled = replace(b, election_id=REFERENDUM.election_id, election_hash=REFERENDUM.hash)
    expect_invalid(REFERENDUM, relabelled, "selection[0].proof")


def test_ballot_for_another_key(ref_ballot):
    other = ElectionContext(REFERENDUM.election_id, Contest.referendum(), OTHER_KEY)
    expect_invalid(other, ref_ballot, "election_hash")
    b = encrypt_ballot(other, TOKEN, [2])
    expect_invalid(REFERENDUM, b, "election_hash")
    expect_invalid(REFERENDUM, replace(b, election_hash=REFERENDUM.hash), "selection[0].proof")


def test_ballot_for_another_contest():
    other = ElectionContext(COMMITTEE.election_id, Contest.committee(CANDIDATES, 1, 2), KEY)
    b = encrypt_ballot(other, TOKEN, [1])
    expect_invalid(COMMITTEE, b, "election_hash")
    # same key and id, selection count matches: only the hash in the proofs can tell
    expect_invalid(COMMITTEE, replace(b, election_hash=COMMITTEE.hash), "selection[0].proof")


def test_election_hash_field_tampered(ref_ballot):
    expect_invalid(REFERENDUM, replace(ref_ballot, election_hash=bytes(32)), "election_hash")


def test_proofs_bound_to_token_key(ref_ballot, com_ballot):
    expect_invalid(REFERENDUM, replace(ref_ballot, token_public_key=OTHER_TOKEN),
                   "selection[0].proof")
    expect_invalid(COMMITTEE, replace(com_ballot, token_public_key=OTHER_TOKEN),
                   "selection[0].proof")
    flipped = bytes([TOKEN[0] ^ 1]) + TOKEN[1:]
    expect_invalid(REFERENDUM, replace(ref_ballot, token_public_key=flipped),
                   "selection[0].proof")


@pytest.mark.parametrize("length", [0, 31, 33])
def test_token_key_wrong_length(ref_ballot, length):
    expect_invalid(REFERENDUM, replace(ref_ballot, token_public_key=b"\x05" * length),
                   "token_public_key")


@pytest.mark.parametrize("i,j", [(0, 1), (1, 2), (0, 2)])
def test_selection_proofs_swapped(ref_ballot, i, j):
    sels = list(ref_ballot.selections)
    sels[i], sels[j] = (EncryptedSelection(sels[i].ciphertext, sels[j].proof),
                        EncryptedSelection(sels[j].ciphertext, sels[i].proof))
    expect_invalid(REFERENDUM, replace(ref_ballot, selections=tuple(sels)), f"selection[{i}].proof")


@pytest.mark.parametrize("i,j", [(0, 1), (1, 2), (0, 4), (2, 3)])
def test_whole_selections_swapped(com_ballot, i, j):
    """Ciphertext and proof moved together keep the total, but positions are bound."""
    sels = list(com_ballot.selections)
    sels[i], sels[j] = sels[j], sels[i]
    moved = replace(com_ballot, selections=tuple(sels))
    expect_invalid(COMMITTEE, moved, f"selection[{i}].proof")


@pytest.mark.parametrize("i", [0, 1, 2])
def test_selection_copied_from_another_ballot(ref_ballot, i):
    other = encrypt_ballot(REFERENDUM, OTHER_TOKEN, [1])  # the very same choice
    verify_ballot(REFERENDUM, other)
    sels = list(ref_ballot.selections)
    sels[i] = other.selections[i]
    expect_invalid(REFERENDUM, replace(ref_ballot, selections=tuple(sels)), f"selection[{i}].proof")


def test_limit_proof_copied_from_another_ballot(ref_ballot):
    other = encrypt_ballot(REFERENDUM, OTHER_TOKEN, [1])
    expect_invalid(REFERENDUM, replace(ref_ballot, limit_proof=other.limit_proof), "limit_proof")
    same_token = encrypt_ballot(REFERENDUM, TOKEN, [1])  # another total ciphertext
    expect_invalid(REFERENDUM, replace(ref_ballot, limit_proof=same_token.limit_proof),
                   "limit_proof")


def test_whole_ballot_replayed_into_another_election(com_ballot):
    other = ElectionContext("estate-9/2025-committee", COMMITTEE.contest, KEY)
    replayed = replace(com_ballot, election_id=other.election_id, election_hash=other.hash)
    expect_invalid(other, replayed, "selection[0].proof")


# --- wrong plaintexts --------------------------------------------------------------------------

def test_referendum_two_choices_fails_limit():
    """Two honest 0/1 selections set to 1 and a true proof that the total is 2."""
    b = handmade(REFERENDUM, TOKEN, [1, 1, 0], limit_values=(2,), limit_claim=0)
    expect_invalid(REFERENDUM, b, "limit_proof")


def test_referendum_no_choice_fails_limit():
    b = handmade(REFERENDUM, TOKEN, [0, 0, 0], limit_values=(0,), limit_claim=0)
    expect_invalid(REFERENDUM, b, "limit_proof")
    forged = handmade(REFERENDUM, TOKEN, [0, 0, 0], limit_claim=0)  # forged proof for (1,)
    expect_invalid(REFERENDUM, forged, "limit_proof")


def test_referendum_all_three_fails_limit():
    b = handmade(REFERENDUM, TOKEN, [1, 1, 1], limit_claim=0)  # forged "total is 1"
    expect_invalid(REFERENDUM, b, "limit_proof")


@pytest.mark.parametrize("i", [0, 1, 2])
def test_ciphertext_of_two_with_forged_01_proof(i):
    values = [0, 0, 0]
    values[i] = 2
    for claim in (0, 1):
        # the limit proof over (1,) is forged too (it passes the challenge-sum check), so both
        # fail only in the batch and the one-by-one re-check names the first: the selection
        b = handmade(REFERENDUM, TOKEN, values, selection_claims={i: claim})
        expect_invalid(REFERENDUM, b, f"selection[{i}].proof")


@pytest.mark.parametrize("values,bad", [([2, -1, 0], 0), ([0, 2, -1], 1), ([-1, 0, 2], 0)])
def test_plus_two_minus_one_attack(values, bad):
    """Total 1 passes the limit; only the per-selection 0/1 proofs catch the weighting attack."""
    b = handmade(REFERENDUM, TOKEN, values)  # limit proof over (1,) is honest
    expect_invalid(REFERENDUM, b, f"selection[{bad}].proof")


def test_selection_proof_with_three_branches():
    ct, r = encrypt(KEY, 2)
    proof = prove_disjunctive(KEY, ct, r, (0, 1, 2), 2,
                              proof_context(REFERENDUM, TOKEN, "selection[0]"))
    good = handmade(REFERENDUM, TOKEN, [0, 1, 0])
    sels = (EncryptedSelection(ct, proof),) + good.selections[1:]
    expect_invalid(REFERENDUM, replace(good, selections=sels), "selection[0].proof")


@pytest.mark.parametrize("n", [0, 1, 2, 4])
def test_wrong_number_of_selections(ref_ballot, n):
    sels = (ref_ballot.selections * 2)[:n]
    expect_invalid(REFERENDUM, replace(ref_ballot, selections=sels), "selections")


def test_committee_more_than_max():
    b = handmade(COMMITTEE, TOKEN, [1, 1, 1, 1, 0], limit_values=(4,), limit_claim=0)
    expect_invalid(COMMITTEE, b, "limit_proof")
    # forged over the right values: the challenge sum holds, the batch fails, the re-check names it
    forged = handmade(COMMITTEE, TOKEN, [1, 1, 1, 1, 0], limit_claim=2)
    expect_invalid(COMMITTEE, forged, "limit_proof")
    everyone = handmade(COMMITTEE, TOKEN, [1, 1, 1, 1, 1], limit_claim=0)
    expect_invalid(COMMITTEE, everyone, "limit_proof")


def test_committee_fewer_than_min():
    e = ElectionContext("min-two", Contest.committee(CANDIDATES, 2, 3), KEY)
    verify_ballot(e, handmade(e, TOKEN, [1, 1, 0, 0, 0]))
    expect_invalid(e, handmade(e, TOKEN, [1, 0, 0, 0, 0], limit_claim=0), "limit_proof")
    expect_invalid(e, handmade(e, TOKEN, [1, 0, 0, 0, 0], limit_values=(1,)), "limit_proof")


@pytest.mark.parametrize("i", [0, 1, 2])
@pytest.mark.parametrize("j", [0, 1])
def test_tampered_selection_response_is_named(ref_ballot, i, j):
    """The challenge sum still holds: the batch fails and the one-by-one re-check names it."""
    sels = list(ref_ballot.selections)
    branches = list(sels[i].proof.branches)
    branches[j] = replace(branches[j], response=(branches[j].response + 1) % ORDER)
    sels[i] = EncryptedSelection(sels[i].ciphertext, DisjunctiveProof(tuple(branches)))
    expect_invalid(REFERENDUM, replace(ref_ballot, selections=tuple(sels)), f"selection[{i}].proof")


def test_tampered_limit_response(com_ballot):
    branches = list(com_ballot.limit_proof.branches)
    branches[1] = replace(branches[1], response=(branches[1].response + 1) % ORDER)
    bad = replace(com_ballot, limit_proof=DisjunctiveProof(tuple(branches)))
    expect_invalid(COMMITTEE, bad, "limit_proof")


def test_limit_proof_with_wrong_branch_count(com_ballot):
    bad = replace(com_ballot, limit_proof=DisjunctiveProof(com_ballot.limit_proof.branches[:2]))
    expect_invalid(COMMITTEE, bad, "limit_proof")


def test_nonces_summing_to_zero_is_invalid_ballot(ref_ballot):
    """A ballot whose selection nonces sum to 0 mod q: every selection is an honest encryption
    with a valid 0/1 proof and the ballot passes the codec, but the sum's alpha is the identity,
    which no statement may contain; it is refused as InvalidBallot("limit_proof")."""
    r1, r2 = random_scalar(), random_scalar()
    nonces = [r1, r2, (-(r1 + r2)) % ORDER]
    sels = []
    for i, (m, r) in enumerate(zip([1, 0, 0], nonces, strict=True)):
        ct, _ = encrypt(KEY, m, r)
        sels.append(EncryptedSelection(ct, prove_disjunctive(
            KEY, ct, r, (0, 1), m, proof_context(REFERENDUM, TOKEN, f"selection[{i}]"))))
    b = replace(ref_ballot, selections=tuple(sels))
    b = decode_ballot(encode_ballot(b))  # reachable from the wire
    assert b.total().alpha.is_infinite()
    expect_invalid(REFERENDUM, b, "limit_proof")


# --- codec -------------------------------------------------------------------------------------

def sel0_offset(ballot: EncryptedBallot) -> int:
    """Byte offset of selection 0's alpha: version | LP(id) | hash | token | n."""
    return 1 + 4 + len(ballot.election_id.encode()) + 32 + 32 + 1


def splice(data: bytes, at: int, new: bytes) -> bytes:
    return data[:at] + new + data[at + len(new):]


def test_ballot_encoding_layout(ref_ballot):
    data = encode_ballot(ref_ballot)
    eid = ref_ballot.election_id.encode()
    assert data[0] == BALLOT_VERSION == 1
    assert data[1:5] == len(eid).to_bytes(4, "big") and data[5:5 + len(eid)] == eid
    o = 5 + len(eid)
    assert data[o:o + 32] == REFERENDUM.hash and data[o + 32:o + 64] == TOKEN
    assert data[o + 64] == 3
    s = sel0_offset(ref_ballot)
    assert data[s:s + 66] == encode_ciphertext(ref_ballot.selections[0].ciphertext)
    assert data[s + 66] == 2  # two branches
    per_selection = 66 + 1 + 2 * 130
    assert len(data) == s + 3 * per_selection + 1 + 130


@pytest.mark.parametrize("cut", [0, 1, 5, 40, 100, -130, -1])
def test_truncated_ballot(ref_ballot, cut):
    data = encode_ballot(ref_ballot)
    with pytest.raises(DecodeError):
        decode_ballot(data[:cut])


@pytest.mark.parametrize("extra", [b"\x00", b"\x01", b"\x00" * 33])
def test_trailing_bytes(ref_ballot, extra):
    with pytest.raises(DecodeError):
        decode_ballot(encode_ballot(ref_ballot) + extra)


@pytest.mark.parametrize("which", ["alpha", "beta", "a0", "b0", "b1"])
def test_off_curve_point_inside(ref_ballot, which):
    data = encode_ballot(ref_ballot)
    s = sel0_offset(ref_ballot)
    at = {"alpha": s, "beta": s + 33, "a0": s + 67, "b0": s + 100, "b1": s + 67 + 130 + 33}[which]
    assert data[at] in (2, 3)  # the offset really is a point
    # positive control: another valid point at this place still decodes
    decode_ballot(splice(data, at, encode_point(base_mul(random_scalar()))))
    for bad in (off_curve_encoding(2), off_curve_encoding(3),
                b"\x04" + data[at + 1:at + 33],
                bytes([data[at]]) + (2**256 - 1).to_bytes(32, "big")):
        with pytest.raises(DecodeError):
            decode_ballot(splice(data, at, bad))


@pytest.mark.parametrize("which", ["c0", "z0", "c1", "z1", "limit_z"])
def test_unreduced_scalar_inside(ref_ballot, which):
    data = encode_ballot(ref_ballot)
    s = sel0_offset(ref_ballot)
    first = s + 67 + 66
    at = {"c0": first, "z0": first + 32, "c1": first + 130, "z1": first + 162,
          "limit_z": len(data) - 32}[which]
    # positive control: q - 1 at this place still decodes
    decode_ballot(splice(data, at, (ORDER - 1).to_bytes(32, "big")))
    for bad in (order_bytes(), (ORDER + 1).to_bytes(32, "big"), b"\xff" * 32):
        with pytest.raises(DecodeError):
            decode_ballot(splice(data, at, bad))


@pytest.mark.parametrize("version", [0, 2, 255])
def test_unknown_version(ref_ballot, version):
    data = encode_ballot(ref_ballot)
    with pytest.raises(DecodeError):
        decode_ballot(bytes([version]) + data[1:])


def test_zero_branches(ref_ballot):
    data = encode_ballot(ref_ballot)
    at = sel0_offset(ref_ballot) + 66
    assert data[at] == 2
    with pytest.raises(DecodeError):
        decode_ballot(splice(data, at, b"\x00"))
    with pytest.raises(DecodeError):
        decode_ballot(splice(data, at, b"\x42"))  # 66 branches
    limit_at = len(data) - 131
    assert data[limit_at] == 1
    with pytest.raises(DecodeError):
        decode_ballot(splice(data, limit_at, b"\x00"))


def test_selection_count_limits(ref_ballot):
    data = encode_ballot(ref_ballot)
    at = sel0_offset(ref_ballot) - 1
    for n in (0, 65, 255):
        with pytest.raises(DecodeError):
            decode_ballot(splice(data, at, bytes([n])))


def test_election_id_must_be_utf8_and_short(ref_ballot):
    data = encode_ballot(ref_ballot)
    eid_len = len(ref_ballot.election_id.encode())
    assert eid_len + 200 > 128
    with pytest.raises(DecodeError):
        decode_ballot(splice(data, 5, b"\xff"))  # invalid UTF-8
    with pytest.raises(DecodeError):
        decode_ballot(splice(data, 1, (129).to_bytes(4, "big")))
    with pytest.raises(DecodeError):
        decode_ballot(splice(data, 1, (eid_len + 200).to_bytes(4, "big")))


def test_decode_rejects_non_bytes(ref_ballot):
    with pytest.raises(DecodeError):
        decode_ballot(encode_ballot(ref_ballot).hex())  # type: ignore[arg-type]


def test_codec_accepts_memoryview_and_bytearray(ref_ballot):
    data = encode_ballot(ref_ballot)
    assert decode_ballot(bytearray(data)) == ref_ballot
    assert decode_ballot(memoryview(data)) == ref_ballot


@pytest.fixture(scope="module")
def mutation_target():
    b = encrypt_ballot(COMMITTEE, TOKEN, [2])
    return b, encode_ballot(b)


@FAST
@given(st.data())
def test_any_single_byte_change_is_refused(mutation_target, data):
    _, enc = mutation_target
    i = data.draw(st.integers(0, len(enc) - 1))
    x = data.draw(st.integers(1, 255))
    mutated = splice(enc, i, bytes([enc[i] ^ x]))
    try:
        decoded = decode_ballot(mutated)
    except DecodeError:
        return
    assert encode_ballot(decoded) == mutated  # canonical: one encoding per object
    with pytest.raises(InvalidBallot):
        verify_ballot(COMMITTEE, decoded)


def test_proof_object_codecs_round_trip():
    ct, r = encrypt(KEY, 1)
    assert decode_ciphertext(encode_ciphertext(ct)) == ct
    x = random_scalar()
    sp = prove_schnorr(x, base_mul(x), ())
    assert decode_schnorr(encode_schnorr(sp)) == sp
    _, _, dp = prove_dleq(x, base_mul(random_scalar()), ())
    assert decode_dleq(encode_dleq(dp)) == dp
    jp = prove_disjunctive(KEY, ct, r, (0, 1, 2), 1, ())
    assert decode_disjunctive(encode_disjunctive(jp)) == jp
    assert len(encode_schnorr(sp)) == 65 and len(encode_dleq(dp)) == 98
    assert len(encode_disjunctive(jp)) == 1 + 3 * 130
    for enc, dec in ((encode_ciphertext(ct), decode_ciphertext), (encode_schnorr(sp),
                     decode_schnorr), (encode_dleq(dp), decode_dleq),
                     (encode_disjunctive(jp), decode_disjunctive)):
        with pytest.raises(DecodeError):
            dec(enc + b"\x00")
        with pytest.raises(DecodeError):
            dec(enc[:-1])
    with pytest.raises(DecodeError):
        decode_schnorr(encode_point(sp.commitment) + order_bytes())
    with pytest.raises(DecodeError):
        decode_disjunctive(b"\x00")
