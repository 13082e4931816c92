"""The project's frozen protocol vectors (tests/vectors/ownervote-v1.json).

Regenerating them must give the same bytes (any change to an encoding or transcript is caught),
and each vector must pass the verifiers when decoded from its hex alone.
"""

import json
from pathlib import Path

import pytest

from crypto.ballot import Contest, ElectionContext, verify_ballot
from crypto.codec import (
    decode_ballot,
    decode_ciphertext,
    decode_disjunctive,
    decode_dleq,
    decode_schnorr,
)
from crypto.dlog import DlogTable
from crypto.errors import InvalidBallot, InvalidProof
from crypto.group import base_mul, decode_point, decode_scalar, encode_point
from crypto.proofs import verify_disjunctive, verify_dleq, verify_schnorr
from crypto.threshold import DecryptionShare, threshold_decrypt
from tests.vectors.make_vectors import render

PATH = Path(__file__).parent / "vectors" / "ownervote-v1.json"
V = json.loads(PATH.read_text())
b = bytes.fromhex


def test_regeneration_is_byte_identical():
    assert render() == PATH.read_text()


def test_transcript_layout():
    t = V["transcript"]
    def lp(x: bytes) -> bytes:
        return len(x).to_bytes(4, "big") + x
    expected = lp(b"ownervote/v1/transcript") + lp(t["label"].encode())
    for name, value in t["items"]:
        expected += lp(name.encode()) + lp(b(value))
    assert expected.hex() == t["transcript"]


def test_proof_vectors_verify_and_fail_when_tampered():
    p = V["proofs"]
    ctx = tuple((n, b(v)) for n, v in p["context"])
    x_pub = decode_point(b(p["schnorr"]["public"]))
    secret = decode_scalar(b(p["schnorr"]["secret"]))
    assert encode_point(base_mul(secret)) == b(p["schnorr"]["public"])
    verify_schnorr(decode_schnorr(b(p["schnorr"]["proof"])), x_pub, ctx)
    d = p["dleq"]
    verify_dleq(decode_dleq(b(d["proof"])), decode_point(b(d["X"])), decode_point(b(d["H"])),
                decode_point(b(d["Y"])), ctx)
    j = p["disjunctive"]
    pk, ct = decode_point(b(j["public_key"])), decode_ciphertext(b(j["ciphertext"]))
    proof = decode_disjunctive(b(j["proof"]))
    verify_disjunctive(proof, pk, ct, j["values"], ctx)
    with pytest.raises(InvalidProof):
        verify_disjunctive(proof, pk, ct, j["values"], (("election_id", b"other"),))


def test_ballot_vector_verifies():
    v = V["ballot"]
    election = ElectionContext(v["election_id"], Contest.referendum(),
                               decode_point(b(v["public_key"])))
    assert election.hash.hex() == v["election_hash"]
    ballot = decode_ballot(b(v["ballot"]))
    verify_ballot(election, ballot)
    other = ElectionContext("another-election", Contest.referendum(), election.public_key)
    with pytest.raises(InvalidBallot):
        verify_ballot(other, ballot)


def test_dkg_vector_decrypts_with_the_published_shares():
    v = V["dkg"]
    vkeys = {int(j): decode_point(b(x)) for j, x in v["verification_keys"].items()}
    for j, s in v["secret_shares"].items():
        assert base_mul(decode_scalar(b(s))) == vkeys[int(j)]
    ct = decode_ciphertext(b(v["tally_ciphertext"]))
    shares = [DecryptionShare(d["guardian"], decode_point(b(d["share"])),
                              decode_dleq(b(d["proof"])))
              for d in v["decryption_shares"]]
    point = threshold_decrypt(v["election_id"], v["tally_label"], ct, shares, vkeys, v["t"])
    assert DlogTable(1000).log(point) == v["plaintext"]


def test_credential_vector_verifies_from_published_data():
    from cryptography.hazmat.primitives.serialization import load_der_public_key

    from crypto.cast import ballot_signing_message, verify_cast_ballot
    from crypto.codec import decode_cast_ballot, decode_credential
    from crypto.credential import IssuerKey, credential_message, verify_credential
    from crypto.encoding import lp

    v = V["credential"]
    issuer = IssuerKey(v["election_id"], v["weight"], load_der_public_key(b(v["issuer_spki"])))
    assert issuer.key_id.hex() == v["key_id"]
    cred = decode_credential(b(v["credential"]))
    assert credential_message(v["election_id"], v["weight"], cred.token_public_key).hex() \
        == v["credential_message"]
    assert (cred.msg_prefix + b(v["credential_message"])).hex() == v["prepared_message"]
    verify_credential(issuer, cred)
    election = ElectionContext(v["election_id"], Contest.referendum(),
                               decode_point(b(v["public_key"])))
    first = decode_cast_ballot(b(v["cast_ballot"]))
    verify_cast_ballot(election, {v["weight"]: issuer}, first)
    revote = decode_cast_ballot(b(v["revote"]))
    verify_cast_ballot(election, {v["weight"]: issuer}, revote)
    assert (first.counter, revote.counter) == (1, 2)
    assert b(v["cast_ballot"])[:5] == b"\x02\x00\x00\x00\x01"  # version 2, u32(counter)
    for cast, message in ((first, v["signing_message"]), (revote, v["revote_signing_message"])):
        assert ballot_signing_message(cast.ballot, cast.counter).hex() == message
        assert b(message)[:4 + 32] == lp(b"ownervote/v1/ballot-signature-v2")
        assert b(message)[36:40] == cast.counter.to_bytes(4, "big")


def test_tally_vector_verifies_and_evaluates_from_published_data():
    from crypto.outcome import result_of
    from crypto.records import (
        decode_aggregates,
        decode_decryption_shares,
        decode_definition,
        decode_result,
        decode_roll_commitment,
        encode_result,
    )
    from crypto.tally import decrypt_aggregates
    from crypto.threshold import is_trivial

    v, dkg = V["tally"], V["dkg"]
    d = decode_definition(b(v["definition"]))  # version 2: deadline, weak flag, revote cap
    assert b(v["definition"])[0] == 2 and b(v["definition"])[-28:] == (
        (1_799_992_800).to_bytes(8, "big") + (1_800_000_000).to_bytes(8, "big")
        + (1_800_086_400).to_bytes(8, "big") + bytes([3, 2, 0, 5]))[-28:]
    assert (d.ceremony_deadline, d.max_ballots_per_token, d.allow_weak_threshold,
            d.weak_threshold) == (1_799_992_800, 5, False, False)
    vkeys = {int(j): decode_point(b(x)) for j, x in dkg["verification_keys"].items()}
    aggs = decode_aggregates(b(v["aggregates"]))
    records = [decode_decryption_shares(b(x)) for x in v["decryption_shares"]]
    by_label: dict = {}
    for r in records:
        for label, share in r.shares:
            by_label.setdefault(label, []).append(share)
    totals = decrypt_aggregates(v["election_id"], aggs, by_label, vkeys, 2, 100_000)
    assert list(totals.counts) == v["counts"] and list(totals.areas) == v["areas"]
    result = result_of(decode_definition(b(v["definition"])),
                       decode_roll_commitment(b(v["roll"])), aggs, totals, (1, 3))
    assert encode_result(result).hex() == v["result"]
    # quorum: 3 of 4 owners and 29,925 of 37,505 area ≥ 2/3 — met; approve: 2 of 3 owners is
    # below the major rule's 3/4 (its area, 20,975 of 29,925, is below too) — rejected
    r = decode_result(b(v["result"]))
    assert r.quorum_met and r.outcomes == (3, 3, 3)
    empty = decode_aggregates(b(v["empty_aggregates"]))
    assert all(is_trivial(c) for c in empty.labelled().values())
    assert b(v["empty_aggregates"])[1:34] == bytes(33)  # the identity as 33 zero bytes
