"""The project's frozen protocol vectors (tests/vectors/ownervote-v1.json).

Regenerating them must give the same bytes (any change to an encoding or transcript is caught),
and each vector must pass the verifiers when decoded from its hex alone.
"""

import json
import math
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


def _rsa_public(spki_hex: str):
    from cryptography.hazmat.primitives.serialization import load_der_public_key
    return load_der_public_key(b(spki_hex))


def _pss_verify(spki_hex: str, signature: bytes, prepared: bytes) -> None:
    """RFC 9474's final signature is a plain RSASSA-PSS signature (SHA-384, MGF1-SHA-384,
    48-byte salt) over the prepared message: checked here with the cryptography package's PSS,
    not with crypto.blind_rsa."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding
    _rsa_public(spki_hex).verify(signature, prepared, padding.PSS(
        mgf=padding.MGF1(hashes.SHA384()), salt_length=48), hashes.SHA384())


def _rsavp1(spki_hex: str, blind_sig: bytes) -> bytes:
    """RSAVP1 of a blind signature, as modulus-length bytes: the blinded message it answers."""
    numbers = _rsa_public(spki_hex).public_numbers()
    size = (numbers.n.bit_length() + 7) // 8
    assert len(blind_sig) == size
    return pow(int.from_bytes(blind_sig, "big"), numbers.e, numbers.n).to_bytes(size, "big")


def _vector_issuers(threshold: int | None = None):
    """The IssuerSet of the vectors' election from the issuer-keys records alone."""
    from crypto.credential import IssuerSet, issuer_key_from_spki
    from crypto.issuance import decode_issuer_keys

    keys = {}
    for r in V["issuer_keys"]["records"]:
        (weight, spki), = decode_issuer_keys(b(r["record"])).keys
        keys[r["registrar"]] = {weight: issuer_key_from_spki(V["issuer_keys"]["election_id"],
                                                             weight, spki, r["registrar"])}
    k = V["definition"]["registrar_threshold"] if threshold is None else threshold
    return IssuerSet(V["issuer_keys"]["election_id"], k, keys)


def test_credential_vector_verifies_from_published_data():
    from dataclasses import replace

    from crypto.cast import ballot_signing_message, verify_cast_ballot
    from crypto.codec import decode_cast_ballot, decode_credential
    from crypto.credential import credential_message, verify_credential
    from crypto.encoding import lp
    from crypto.errors import InvalidCredential

    v = V["credential"]
    cred = decode_credential(b(v["credential"]))
    message = credential_message(v["election_id"], v["weight"], cred.token_public_key)
    assert message.hex() == v["credential_message"] == (
        lp(b"ownervote/v1/credential") + lp(v["election_id"].encode())
        + v["weight"].to_bytes(8, "big") + b(v["token_public_key"])).hex()
    # §8.2 by hand: LP(election_id) || u64(weight) || T || u8(c) || (u8(r) || prefix || LP(sig))^c
    by_hand = (lp(v["election_id"].encode()) + v["weight"].to_bytes(8, "big")
               + b(v["token_public_key"]) + bytes([len(v["signatures"])]))
    for s, sig in zip(v["signatures"], cred.signatures, strict=True):
        assert sig.registrar == s["registrar"] and sig.msg_prefix.hex() == s["msg_prefix"]
        assert (sig.msg_prefix + message).hex() == s["prepared_message"]
        assert _rsavp1(s["issuer_spki"], b(s["blind_sig"])).hex() == s["blinded_msg"]
        _pss_verify(s["issuer_spki"], b(s["signature"]), b(s["prepared_message"]))
        by_hand += bytes([s["registrar"]]) + b(s["msg_prefix"]) + lp(b(s["signature"]))
    assert by_hand.hex() == v["credential"]
    assert [s["registrar"] for s in v["signatures"]] == [0, 1]
    assert len({s["blinded_msg"] for s in v["signatures"]}) == 2  # each registrar its own
    issuers = _vector_issuers()
    assert issuers.threshold == v["registrar_threshold"] == 2
    for s in v["signatures"]:
        assert issuers.keys[s["registrar"]][v["weight"]].key_id.hex() == s["key_id"]
    verify_credential(issuers, cred)
    election = ElectionContext(v["election_id"], Contest.referendum(),
                               decode_point(b(v["public_key"])))
    first = decode_cast_ballot(b(v["cast_ballot"]))
    verify_cast_ballot(election, issuers, first)
    revote = decode_cast_ballot(b(v["revote"]))
    verify_cast_ballot(election, issuers, revote)
    assert (first.counter, revote.counter) == (1, 2)
    assert b(v["cast_ballot"])[:5] == b"\x03\x00\x00\x00\x01"  # version 3, u32(counter)
    for cast, message in ((first, v["signing_message"]), (revote, v["revote_signing_message"])):
        assert ballot_signing_message(cast.ballot, cast.counter).hex() == message
        assert b(message)[:4 + 32] == lp(b"ownervote/v1/ballot-signature-v2")
        assert b(message)[36:40] == cast.counter.to_bytes(4, "big")
        assert first.credential == cred and lp(b(v["credential"])) in b(v["cast_ballot"])
    # either signature alone is k - 1 = 1 of the 2 the election needs
    for one in cred.signatures:
        with pytest.raises(InvalidCredential, match="needs 2"):
            verify_credential(issuers, replace(cred, signatures=(one,)))
        verify_credential(_vector_issuers(1), replace(cred, signatures=(one,)))


def test_definition_vector_follows_section_12():
    from crypto.encoding import lp
    from crypto.records import decode_definition

    v = V["definition"]
    raw = b(v["definition"])
    assert raw[0] == v["version"] == 3
    tail = (bytes([len(v["registrars"])])
            + b"".join(lp(r["name"].encode()) + b(r["key"]) for r in v["registrars"])
            + bytes([v["registrar_threshold"]]) + b(v["identity_provider"]))
    fixed = (v["ceremony_deadline"].to_bytes(8, "big") + v["open_time"].to_bytes(8, "big")
             + v["close_time"].to_bytes(8, "big")
             + bytes([v["guardians"], v["threshold"], v["allow_weak_threshold"],
                      v["max_ballots_per_token"]]))
    assert raw.endswith(fixed + tail)
    d = decode_definition(raw)
    assert [(r.name, r.key.hex()) for r in d.registrars] == \
        [(r["name"], r["key"]) for r in v["registrars"]]
    assert [r["name"] for r in v["registrars"]] == sorted(r["name"] for r in v["registrars"])
    assert (d.registrar_threshold, d.identity_provider.hex()) == (v["registrar_threshold"],
                                                                  v["identity_provider"])
    assert v["definition"] == V["tally"]["definition"]
    # the registrars sign what the other vectors carry, with the keys the definition names
    for r, rec in zip(v["registrars"], V["issuer_keys"]["records"], strict=True):
        assert (rec["name"], rec["public_key"]) == (r["name"], r["key"])
    assert v["identity_provider"] == V["trust"]["identity_provider"]["public_key"] \
        == V["issuances"]["identity_provider"]


def test_issuer_keys_vectors_are_signed_by_their_registrars():
    """§8.5: LP(registrar) || u32(c) || (u64(weight) || LP(spki))^c || Ed25519 signature over
    LP("ownervote/v1/issuer-keys-v2") || LP(election_id) || the body; §8.2: a modulus of at
    least 2048 bits and e = 65537."""
    import hashlib

    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from crypto.issuance import decode_issuer_keys, verify_issuer_keys

    v = V["issuer_keys"]
    assert v["label"] == "ownervote/v1/issuer-keys-v2"
    for r in v["records"]:
        body = (_lp(r["name"].encode()) + (1).to_bytes(4, "big") + r["weight"].to_bytes(8, "big")
                + _lp(b(r["spki"])))
        assert body.hex() == r["body"] and (body + b(r["signature"])).hex() == r["record"]
        seed = hashlib.sha256(f"ownervote vector registrar {r['name']}".encode()).digest()
        assert seed.hex() == r["seed"]
        public = Ed25519PrivateKey.from_private_bytes(seed).public_key()
        assert public.public_bytes_raw().hex() == r["public_key"]
        public.verify(b(r["signature"]), _lp(v["label"].encode())
                      + _lp(v["election_id"].encode()) + body)
        record = decode_issuer_keys(b(r["record"]))
        verify_issuer_keys(public.public_bytes_raw(), v["election_id"], record)
        (weight, spki), = record.keys
        key = _rsa_public(r["spki"])
        assert isinstance(key, rsa.RSAPublicKey) and weight == r["weight"]
        numbers = key.public_numbers()
        assert numbers.n.bit_length() == r["modulus_bits"] >= 2048
        assert numbers.e == r["e"] == 65537
        assert hashlib.sha256(spki).hexdigest() == r["key_id"]
        if r["registrar"] == 0:
            rfc = json.loads((PATH.parent / "rfc9474.json").read_text())[0]
            assert numbers.n == int(rfc["n"], 16) and r["modulus_bits"] == 4096
        else:
            assert int(r["p"], 16) * int(r["q"], 16) == numbers.n
            assert r["modulus_bits"] == 2048
    assert [r["registrar"] for r in v["records"]] == [0, 1, 2]
    assert len({r["spki"] for r in v["records"]}) == 3  # each registrar its own key
    sigs = V["credential"]["signatures"]
    assert [(s["issuer_spki"], s["key_id"]) for s in sigs] == \
        [(r["spki"], r["key_id"]) for r in v["records"][:2]]


def test_issuance_vectors_verify_from_published_data():
    """§8.5: each batch signed by its registrar, its issuances in owner-id order; each issuance
    an attestation of the identity provider for this election and owner authorising the
    record's blinded message, and a blind signature whose RSAVP1 is that blinded message."""
    import hashlib

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from crypto.attestation import decode_attestation
    from crypto.codec import decode_credential
    from crypto.credential import verify_credential
    from crypto.issuance import decode_issuances, verify_issuance, verify_issuances

    v = V["issuances"]
    eid, idp = v["election_id"], b(v["identity_provider"])
    keys = {r["registrar"]: r for r in V["issuer_keys"]["records"]}
    owners = {o["owner_id"]: o for o in v["owners"]}
    issuers = _vector_issuers()
    for o in v["owners"]:
        att = b(o["attestation"])
        by_hand = (_lp(b"ownervote/v1/identity-attestation-v2") + _lp(o["owner_id"].encode())
                   + _lp(eid.encode()) + _lp(b(o["nonce"])) + o["expires_at"].to_bytes(8, "big")
                   + bytes([len(o["authorises"])]) + b"".join(b(d) for d in o["authorises"]))
        assert by_hand.hex() == o["attestation"]
        assert o["authorises"] == sorted(o["authorises"]) and len(o["authorises"]) == 2
        Ed25519PublicKey.from_public_bytes(idp).verify(b(o["attestation_signature"]), att)
        assert decode_attestation(att).owner_id == o["owner_id"]
        assert o["expires_at"] > v["attested_at"]
        verify_credential(issuers, decode_credential(b(o["credential"])))
    assert owners["O001"]["credential"] == V["credential"]["credential"]
    assert sorted(owners["O001"]["authorises"]) == sorted(
        hashlib.sha256(b(s["blinded_msg"])).hexdigest() for s in V["credential"]["signatures"])
    seen = {}
    for batch in v["batches"]:
        reg = keys[batch["registrar"]]
        body = (_lp(batch["name"].encode()) + batch["seq"].to_bytes(4, "big")
                + bytes([batch["final"]]) + len(batch["issuances"]).to_bytes(4, "big")
                + b"".join(b(i) for i in batch["issuances"]))
        assert body.hex() == batch["body"] and (body + b(batch["signature"])).hex() == \
            batch["record"]
        public = Ed25519PublicKey.from_public_bytes(b(reg["public_key"]))
        public.verify(b(batch["signature"]), _lp(v["label"].encode()) + _lp(eid.encode()) + body)
        record = decode_issuances(b(batch["record"]))
        verify_issuances(b(reg["public_key"]), eid, record)
        assert [i.owner_id for i in record.issuances] == batch["owners"] == sorted(batch["owners"])
        for raw, item in zip(batch["issuances"], record.issuances, strict=True):
            o = owners[item.owner_id]
            by_hand = (_lp(item.owner_id.encode()) + reg["weight"].to_bytes(8, "big")
                       + _lp(b(o["attestation"])) + b(o["attestation_signature"])
                       + item.blinded_digest + _lp(item.blind_sig))
            assert by_hand.hex() == raw
            assert item.blinded_digest.hex() in o["authorises"]
            blinded = _rsavp1(reg["spki"], item.blind_sig)
            assert hashlib.sha256(blinded).digest() == item.blinded_digest
            assert batch["registrar"] in o["registrars"]
            verify_issuance(eid, idp, issuers.keys[batch["registrar"]][reg["weight"]], item,
                            not_expired_at=v["attested_at"])
            seen.setdefault(item.owner_id, []).append(batch["registrar"])
    assert seen == {o["owner_id"]: o["registrars"] for o in v["owners"]}
    assert [b_["final"] for b_ in v["batches"]] == [False, False, True]


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
    d = decode_definition(b(v["definition"]))  # version 3 (test_definition_vector_follows_…)
    assert b(v["definition"])[0] == 3
    assert (d.ceremony_deadline, d.max_ballots_per_token, d.allow_weak_threshold,
            d.weak_threshold, d.registrar_threshold) == (1_799_992_800, 5, False, False, 2)
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


# --- §7: ceremony encodings and the guardian proofs' transcripts --------------------------------

def _lp(x: bytes) -> bytes:
    return len(x).to_bytes(4, "big") + x


def _challenge(label: str, items) -> int:
    from crypto.group import hash_to_scalar
    raw = _lp(b"ownervote/v1/transcript") + _lp(label.encode())
    for name, value in items:
        raw += _lp(name.encode()) + _lp(value)
    return hash_to_scalar(raw, b"ownervote-v1-fiat-shamir-challenge")


def _equations_hold(label: str, items, proof: bytes, c: int) -> bool:
    """The proof's equations (§5.1, §5.2) with the statement taken from the items."""
    from crypto.group import msm
    it = dict(items)
    pt = {k: decode_point(v) for k, v in it.items() if len(v) == 33}
    z = decode_scalar(proof[-32:])
    if label.endswith("schnorr"):
        assert proof[:33] == it["R"]
        return msm([z, -c], [pt["G"], pt["X"]]) == pt["R"]
    assert proof[:66] == it["R1"] + it["R2"]
    return (msm([z, -c], [pt["G"], pt["X"]]) == pt["R1"]
            and msm([z, -c], [pt["H"], pt["Y"]]) == pt["R2"])


def test_guardian_proof_transcripts_are_exactly_the_listed_items():
    v = V["proof_transcripts"]
    assert set(v) == {"guardian_key", "dkg_constant", "dkg_complaint", "decryption_share"}
    for name, case in v.items():
        items = [(n, b(x)) for n, x in case["items"]]
        raw = _lp(b"ownervote/v1/transcript") + _lp(case["label"].encode())
        raw += b"".join(_lp(n.encode()) + _lp(x) for n, x in items)
        assert raw.hex() == case["transcript"], name
        c = _challenge(case["label"], items)
        assert c.to_bytes(32, "big").hex() == case["challenge"], name
        assert _equations_hold(case["label"], items, b(case["proof"]), c), name
    # the ceremony's proofs carry n and t right after the purpose; the decryption share does not
    for name in ("guardian_key", "dkg_constant", "dkg_complaint"):
        names = [n for n, _ in v[name]["items"]]
        assert names[:4] == ["election_id", "purpose", "n", "t"], name
    names = [n for n, _ in v["decryption_share"]["items"]]
    assert names[:6] == ["election_id", "purpose", "label", "alpha", "beta", "guardian"]
    assert "n" not in names and "t" not in names


def test_guardian_proof_transcripts_refuse_the_other_reading_of_section_7():
    """An implementation that gives every §7 proof n and t (or none) fails to verify."""
    v = V["proof_transcripts"]
    share = v["decryption_share"]
    items = [(n, b(x)) for n, x in share["items"]]
    with_nt = items[:2] + [("n", (3).to_bytes(4, "big")), ("t", (2).to_bytes(4, "big"))] + items[2:]
    assert not _equations_hold(share["label"], items, b(share["proof"]),
                               _challenge(share["label"], with_nt))
    for name in ("guardian_key", "dkg_constant", "dkg_complaint"):
        case = v[name]
        items = [(n, b(x)) for n, x in case["items"]]
        without = [(n, x) for n, x in items if n not in ("n", "t")]
        assert not _equations_hold(case["label"], items, b(case["proof"]),
                                   _challenge(case["label"], without)), name
        as_u64 = [(n, x.rjust(8, b"\0") if n in ("n", "t") else x) for n, x in items]
        assert not _equations_hold(case["label"], items, b(case["proof"]),
                                   _challenge(case["label"], as_u64)), name


def test_ceremony_vector_encodings_verify_and_complaints_are_judged():
    from crypto.codec import decode_complaint, decode_dealing, decode_guardian_key
    from crypto.dkg import DkgParameters, judge_complaint, verify_dealing, verify_guardian_key

    v, dkg = V["ceremony"], V["dkg"]
    params = DkgParameters(v["election_id"], v["n"], v["t"])
    keys = [decode_guardian_key(b(x)) for x in v["guardian_keys"]]
    for raw, k, pub in zip(v["guardian_keys"], keys, dkg["guardian_keys"], strict=True):
        # u8(index) || E || Schnorr proof, 99 bytes
        assert raw == bytes([pub["index"]]).hex() + pub["encryption_key"] + pub["proof"]
        verify_guardian_key(params, k)
    for raw, d in zip(v["dealings"], dkg["dealings"], strict=True):
        expected = bytes([d["dealer"], len(d["commitments"])]).hex() + "".join(d["commitments"])
        expected += d["constant_proof"] + bytes([len(d["shares"])]).hex()
        expected += "".join(bytes([s["recipient"]]).hex() + s["ephemeral"] + s["ciphertext"]
                            for s in d["shares"])
        assert raw == expected
        verify_dealing(params, decode_dealing(b(raw)))
    assert [c["verdict"] for c in v["complaints"]] == ["dismissed", "upheld"]
    for c in v["complaints"]:
        complaint = decode_complaint(b(c["complaint"]))
        assert len(b(c["complaint"])) == 133
        verdict = judge_complaint(params, complaint, decode_dealing(b(c["dealing"])), keys)
        assert verdict.value == c["verdict"]


# --- §10.1: the roll ------------------------------------------------------------------------------

def _spec_roll_bytes(units) -> bytes:
    """roll_bytes of §10.1, written from the text: owners are the designated voters, sorted."""
    def s(x: str) -> bytes:
        return _lp(x.encode())
    owners: dict[str, list] = {}
    for u in units:
        owners.setdefault(u[4], []).append(u)
    total = sum(u[2] for u in units)
    out = b"ownervote/roll/v1\x00" + total.to_bytes(8, "big") + len(owners).to_bytes(4, "big")
    for voter in sorted(owners):
        mine = sorted(owners[voter], key=lambda u: u[0])
        out += s(voter) + sum(u[2] for u in mine).to_bytes(8, "big") + len(mine).to_bytes(4, "big")
        for unit_id, building, area, owner_id, designated, unsold in mine:
            out += (s(unit_id) + s(building) + area.to_bytes(8, "big") + s(owner_id)
                    + s(designated) + bytes([1 if unsold else 0]))
    return out


def test_roll_vector_bytes_and_hash_follow_section_10():
    import hashlib

    from crypto.records import decode_roll_commitment
    from rules.roll import Unit, compute_weights, roll_canonical_bytes, roll_hash

    v = V["roll"]
    units = [tuple(u) for u in v["units"]]
    assert _spec_roll_bytes(units).hex() == v["roll_bytes"]
    assert hashlib.sha256(b(v["roll_bytes"])).hexdigest() == v["roll_hash"]
    # the listing order does not change the bytes
    roll = compute_weights(Unit(*u) for u in reversed(units))
    assert roll_canonical_bytes(roll).hex() == v["roll_bytes"] and roll_hash(roll).hex() == \
        v["roll_hash"]
    # a co-owned unit's area goes to its designated voter: O002 is no voting owner
    assert [o.owner_id for o in roll.owners] == ["O001", "O003", "O004", "developer"]
    record = decode_roll_commitment(b(v["record"]))
    assert record.roll_hash.hex() == v["roll_hash"]
    assert (record.total_area, record.total_owners) == (v["total_area"], v["total_owners"])
    assert record.classes == ((7580, 1), (8950, 2), (12025, 1))
    # the tally vector's definition and roll record commit to this very roll
    assert V["tally"]["roll"] == v["record"]
    from crypto.records import decode_definition
    assert decode_definition(b(V["tally"]["definition"])).roll_hash.hex() == v["roll_hash"]


def test_sample_roll_csv_hash():
    import hashlib

    from rules.roll import roll_canonical_bytes
    from rules.roll_csv import parse_roll_csv

    v = V["roll"]["sample_roll_csv"]
    roll = parse_roll_csv((Path(__file__).parent.parent / v["path"]).read_text())
    assert roll_canonical_bytes(roll).hex() == v["roll_bytes"]
    assert hashlib.sha256(b(v["roll_bytes"])).hexdigest() == v["roll_hash"]
    units = [(u.unit_id, u.building, u.area, u.owner_id, u.designated_voter, u.developer_unsold)
             for o in roll.owners for u in o.units]
    assert _spec_roll_bytes(units).hex() == v["roll_bytes"]
    assert (roll.total_area, roll.total_owners) == (v["total_area"], v["total_owners"])


# --- §10.2: the result under the rule -------------------------------------------------------------

def _parse_rule(raw: bytes):
    assert len(raw) == 1 + 4 * 16 + 1
    fr = [(int.from_bytes(raw[1 + 16 * i:9 + 16 * i], "big"),
           int.from_bytes(raw[9 + 16 * i:17 + 16 * i], "big")) for i in range(4)]
    return raw[0], fr, raw[-1]


def _spec_outcomes(case, total_area, total_owners, *, strict_quorum=False, roll_denominators=False,
                   quorum_or=False):
    """§10.2 as written (the keyword arguments are the wrong readings it rules out)."""
    from fractions import Fraction as F
    _, fr, strict = _parse_rule(b(case["rule"]))
    qa, qh, aa, ah = (F(n, d) for n, d in fr)
    a, p = case["participating_area"], case["participating_owners"]

    def cmp(x, y, is_strict):
        return x > y if is_strict else x >= y
    area_ok = cmp(F(a, total_area), qa, strict_quorum and strict)
    head_ok = cmp(F(p, total_owners), qh, strict_quorum and strict)
    quorum = p > 0 and ((area_ok or head_ok) if quorum_or else (area_ok and head_ok))
    if not quorum:
        return False, [1] * len(case["counts"])
    da, dp = (total_area, total_owners) if roll_denominators else (a, p)
    out = []
    for count, area in zip(case["counts"], case["areas"], strict=True):
        ok = cmp(F(area, da), aa, strict) and cmp(F(count, dp), ah, strict)
        out.append(2 if ok else 3)
    return True, out


def _major_rule_bytes() -> bytes:
    """The major preset's rule bytes (the tally vector's definition carries exactly these)."""
    case, = (c for c in V["rule_outcomes"]["cases"] if c["name"] == "three_quarters_major_passed")
    return b(case["rule"])


def _spec_result_bytes(case) -> bytes:
    n = len(case["counts"])
    out = bytes([n]) + b"".join(c.to_bytes(8, "big") + a.to_bytes(8, "big")
                                for c, a in zip(case["counts"], case["areas"], strict=True))
    out += case["participating_owners"].to_bytes(8, "big")
    out += case["participating_area"].to_bytes(8, "big")
    out += bytes([case["quorum_met"]]) + bytes(case["outcomes"])
    return out + bytes([len(case["guardians"])]) + bytes(case["guardians"])


def test_rule_outcome_vectors_follow_section_10_2():
    from crypto.elgamal import ZERO
    from crypto.outcome import result_of
    from crypto.records import decode_definition, decode_roll_commitment, encode_result
    from crypto.tally import Aggregates, DecryptedTotals

    v = V["rule_outcomes"]
    roll = decode_roll_commitment(b(v["roll"]))
    assert (roll.total_area, roll.total_owners) == (v["total_area"], v["total_owners"]) \
        == (180_000, 12)
    assert roll.classes == ((10000, 6), (20000, 6))
    names = set()
    for case in v["cases"]:
        names.add(case["name"])
        preset, fr, strict = _parse_rule(b(case["rule"]))
        assert (preset, fr, strict) == (case["preset"], [tuple(f) for f in case["fractions"]],
                                        int(case["strict"]))
        quorum, outcomes = _spec_outcomes(case, v["total_area"], v["total_owners"])
        assert (quorum, outcomes) == (case["quorum_met"], case["outcomes"]), case["name"]
        assert _spec_result_bytes(case).hex() == case["result"], case["name"]
        # and the reference implementation gives the same bytes from the same totals: the
        # definition carrying this rule is the tally vector's with its rule bytes replaced
        tally_def = b(V["tally"]["definition"])
        major = _major_rule_bytes()
        assert tally_def.count(major) == 1
        definition = decode_definition(tally_def.replace(major, b(case["rule"])))
        aggs = Aggregates((ZERO,) * 3, (ZERO,) * 3, case["participating_owners"],
                          case["participating_area"])
        got = result_of(definition, roll, aggs,
                        DecryptedTotals(tuple(case["counts"]), tuple(case["areas"])),
                        tuple(case["guardians"]))
        assert encode_result(got).hex() == case["result"], case["name"]
    assert {"passed", "no_quorum_area", "no_quorum_headcount", "half_ordinary_rejected",
            "half_not_strict_passed", "three_quarters_major_passed",
            "three_quarters_strict_rejected", "nobody_voted_zero_quorum",
            "one_voter_zero_quorum"} == names
    outcomes = {c["name"]: c["outcomes"][0] for c in v["cases"]}
    assert outcomes["half_ordinary_rejected"] == 3 and outcomes["half_not_strict_passed"] == 2
    assert outcomes["three_quarters_major_passed"] == 2
    assert outcomes["three_quarters_strict_rejected"] == 3
    assert outcomes["no_quorum_area"] == outcomes["no_quorum_headcount"] == 1
    assert outcomes["nobody_voted_zero_quorum"] == 1 and outcomes["one_voter_zero_quorum"] == 2


def test_rule_outcome_vectors_rule_out_the_wrong_readings():
    """Each misreading of §10.2 disagrees with the vectors on at least one case."""
    v = V["rule_outcomes"]
    for wrong in ({"strict_quorum": True}, {"roll_denominators": True}, {"quorum_or": True}):
        disagree = [c["name"] for c in v["cases"]
                    if _spec_outcomes(c, v["total_area"], v["total_owners"], **wrong)
                    != (c["quorum_met"], c["outcomes"])]
        assert disagree, wrong


def test_refused_rule_vectors_are_refused_by_the_decoder():
    from crypto.errors import DecodeError
    from crypto.records import decode_definition

    tally_def = b(V["tally"]["definition"])
    major = _major_rule_bytes()
    decode_definition(tally_def)  # the splice point is a valid rule
    for refused in V["rule_outcomes"]["refused_rules"]:
        with pytest.raises(DecodeError):
            decode_definition(tally_def.replace(major, b(refused["rule"])))


# --- §6: a committee contest ---------------------------------------------------------------------

def test_committee_vector_verifies_and_its_limit_is_bound():
    import hashlib

    v = V["committee"]
    contest = Contest.committee(v["options"], v["min"], v["max"])
    raw = _lp(b"committee") + len(v["options"]).to_bytes(4, "big")
    raw += b"".join(_lp(o.encode()) for o in v["options"])
    raw += v["min"].to_bytes(4, "big") + v["max"].to_bytes(4, "big")
    assert raw.hex() == v["contest_bytes"] == contest.canonical_bytes().hex()
    key = decode_point(b(v["public_key"]))
    election_hash = hashlib.sha256(_lp(b"ownervote/v1/election") + _lp(v["election_id"].encode())
                                   + _lp(raw) + _lp(b(v["public_key"]))).hexdigest()
    election = ElectionContext(v["election_id"], contest, key)
    assert election.hash.hex() == election_hash == v["election_hash"]
    ballot = decode_ballot(b(v["ballot"]))
    assert len(ballot.selections) == 4 and len(b(v["ballot"])) == 1 + 4 + 14 + 32 + 32 + 1 + \
        4 * (66 + 1 + 130 * 2) + 1 + 130 * 3
    verify_ballot(election, ballot)
    # the plaintexts (the secret key is published): ann and cai
    from crypto.group import mul
    s = decode_scalar(b(v["secret_key"]))
    table = DlogTable(10)
    chosen = [table.log(sel.ciphertext.beta - mul(s, sel.ciphertext.alpha))
              for sel in ballot.selections]
    assert [i for i, m in enumerate(chosen) if m] == v["choices"]
    assert [n for n, _ in v["limit_context"]] == ["election_id", "election_hash",
                                                  "token_public_key", "position"]
    assert b(v["limit_context"][3][1]) == b"contest-limit"
    # the same ballot under a contest allowing one choice is refused (its hash differs; and a
    # context with that contest's hash but the 0..2 limit proof fails the limit proof)
    with pytest.raises(InvalidBallot):
        verify_ballot(ElectionContext(v["election_id"], Contest.committee(v["options"], 0, 1),
                                      key), ballot)


# --- §5.3: a derived identity is not refused ------------------------------------------------------

def test_a_derived_identity_in_a_disjunctive_branch_verifies():
    v = V["derived_identity"]
    ctx = tuple((n, b(x)) for n, x in v["context"])
    pk, ct = decode_point(b(v["public_key"])), decode_ciphertext(b(v["ciphertext"]))
    assert encode_point(ct.beta) == encode_point(base_mul(1))  # beta − 1·G is the identity
    from crypto.group import is_identity
    assert is_identity(ct.beta - base_mul(1))
    verify_disjunctive(decode_disjunctive(b(v["proof"])), pk, ct, v["values"], ctx)
    with pytest.raises(InvalidProof):  # and it is still a proof about this context only
        verify_disjunctive(decode_disjunctive(b(v["proof"])), pk, ct, v["values"],
                           (("election_id", b"other"),))


# --- §4.3: the bounded discrete log ---------------------------------------------------------------

def test_dlog_vector_answers_do_not_depend_on_the_table():
    from crypto.errors import DiscreteLogNotFound
    from crypto.group import IDENTITY

    v = V["dlog"]
    bound = v["bound"]
    assert v["baby_steps"] == math.isqrt(bound // 2) + 1 and v["stride"] == 2 * v["baby_steps"] + 1
    for table in (DlogTable(bound), DlogTable(bound, baby_steps=3), DlogTable(10**6)):
        for case in v["cases"]:
            point = IDENTITY if case["point"] == "" else decode_point(b(case["point"]))
            if case["v"]:
                assert encode_point(base_mul(case["v"])).hex() == case["point"]
            if case["found"] is None:
                with pytest.raises(DiscreteLogNotFound):
                    table.log(point, bound)
            else:
                assert table.log(point, bound) == case["found"] == case["v"]
    assert [c["v"] for c in v["cases"] if c["found"] is None] == [1001, 5000]


# --- §12: the event envelopes ---------------------------------------------------------------------

def test_event_envelope_vectors():
    import hashlib

    from crypto.encoding import decode_event, event_family
    from crypto.records import ElectionEvent

    v = V["events"]
    assert {e["kind"] for e in v["events"]} == {k.value for k in ElectionEvent}
    for e in v["events"]:
        entry = (_lp(v["magic"].encode()) + _lp(e["kind"].encode()) + _lp(e["subject"].encode())
                 + _lp(b(e["body"])))
        assert entry.hex() == e["entry"]
        assert hashlib.sha256(b"\x00" + entry).hexdigest() == e["leaf_hash"]
        ev = decode_event(entry)
        assert (ev.kind, ev.subject, ev.body.hex()) == (e["kind"], e["subject"], e["body"])
        assert event_family(ev.kind) == v["family"]
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
    reg = v["with_registrars"]
    registrars = [f"registrar {r['name']} {r['key']}" for r in reg["registrars"]]
    for r in reg["registrars"]:
        assert hashlib.sha256(f"ownervote vector registrar {r['name']}".encode()).hexdigest() \
            == r["seed"]
    assert reg["registrars"] == [{**r, "seed": r2["seed"]} for r, r2 in
                                 zip(V["definition"]["registrars"], reg["registrars"],
                                     strict=True)]
    for doc, lines, is_dev in ((v["bundle"], head, False), (g, head + guardians, False),
                               (reg, head + registrars + guardians, False),
                               (dev, dev_lines, True)):
        text = "".join(line + "\n" for line in lines).encode()
        assert text.hex() == doc["encoding"] and text.decode() == doc["text"]
        assert hashlib.sha256(text).hexdigest() == doc["sha256"]
        assert short(hashlib.sha256(text).digest(), is_dev) == doc["fingerprint"]
        bundle = decode_bundle(text)
        assert bundle.encode() == text and bundle.fingerprint() == doc["fingerprint"]
        assert bundle.development is is_dev
    from crypto.election_view import check_registrars
    from crypto.records import decode_definition
    full = decode_bundle(b(reg["encoding"]))
    check_registrars(decode_definition(b(V["definition"]["definition"])), full.registrars,
                     full.identity_provider)
    pinned = decode_bundle(b(g["encoding"])).guardian_fingerprints(g["election_id"])
    from crypto.codec import decode_guardian_key  # the library's fingerprint agrees
    for k in V["dkg"]["guardian_keys"]:
        key = decode_guardian_key(bytes([k["index"]]) + b(k["encryption_key"]) + b(k["proof"]))
        assert guardian_fingerprint(g["election_id"], key) == pinned[k["index"]]
