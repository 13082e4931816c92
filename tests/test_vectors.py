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

    from crypto.cast import verify_cast_ballot
    from crypto.codec import decode_cast_ballot, decode_credential
    from crypto.credential import IssuerKey, credential_message, verify_credential

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
    verify_cast_ballot(election, {v["weight"]: issuer}, decode_cast_ballot(b(v["cast_ballot"])))


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


def test_trust_bundle_vectors_from_their_keys_and_by_hand():
    """§13.1: the bundle's text built by hand from the keys' seeds, its SHA-256 digest and its
    short fingerprint computed without the library, and decoding giving back exactly it."""
    import base64
    import hashlib

    from crypto.dkg import guardian_fingerprint
    from crypto.log.checkpoint import CosignatureSigner
    from crypto.log.note import Ed25519Signer
    from crypto.log.trust import decode_bundle

    v = V["trust"]
    log = Ed25519Signer(v["log"]["name"], b(v["log"]["seed"]))
    assert log.verifier().vkey() == v["log"]["vkey"]
    witnesses = [CosignatureSigner(w["name"], b(w["seed"])) for w in v["witnesses"]]
    assert [w.verifier().vkey() for w in witnesses] == [w["vkey"] for w in v["witnesses"]]

    def short(digest: bytes, dev: bool = False) -> str:
        b32 = base64.b32encode(digest[:20]).decode()
        return ("DEV-" if dev else "") + "-".join(b32[i:i + 4] for i in range(0, 32, 4))

    def lp(x: bytes) -> bytes:
        return len(x).to_bytes(4, "big") + x

    head = ["ownervote-trust-bundle/v1", f"origin {v['origin']}", f"log {v['log']['vkey']}",
            *sorted(f"witness {w['vkey']}" for w in v["witnesses"]), f"quorum {v['quorum']}",
            f"identity-provider {v['identity_provider']['public_key']}"]
    g = v["with_guardians"]
    dkg = {k["index"]: k["encryption_key"] for k in V["dkg"]["guardian_keys"]}
    fps = {int(i): hashlib.sha256(lp(b"ownervote/v1/guardian-fingerprint")
                                  + lp(g["election_id"].encode()) + bytes([int(i)])
                                  + b(dkg[int(i)])).digest() for i in g["fingerprints"]}
    assert {str(i): fp.hex() for i, fp in fps.items()} == g["fingerprints"]
    guardians = [f"guardian {g['election_id']} {i} {fps[i].hex()}" for i in sorted(fps)]
    dev = v["development"]
    dev_lines = [*head[:3], f"witness {v['witnesses'][0]['vkey']}", "quorum 0", head[-1],
                 "development"]
    for doc, lines, is_dev in ((v["bundle"], head, False), (g, head + guardians, False),
                               (dev, dev_lines, True)):
        text = "".join(line + "\n" for line in lines).encode()
        assert text.hex() == doc["encoding"] and text.decode() == doc["text"]
        assert hashlib.sha256(text).hexdigest() == doc["sha256"]
        assert short(hashlib.sha256(text).digest(), is_dev) == doc["fingerprint"]
        bundle = decode_bundle(text)
        assert bundle.encode() == text and bundle.fingerprint() == doc["fingerprint"]
        assert bundle.development is is_dev
    pinned = decode_bundle(b(g["encoding"])).guardian_fingerprints(g["election_id"])
    from crypto.codec import decode_guardian_key  # the library's fingerprint agrees
    for k in V["dkg"]["guardian_keys"]:
        key = decode_guardian_key(bytes([k["index"]]) + b(k["encryption_key"]) + b(k["proof"]))
        assert guardian_fingerprint(g["election_id"], key) == pinned[k["index"]]
