"""Blind credentials and signed ballots: issuance round trip and every refusal."""

from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crypto.ballot import Contest, ElectionContext
from crypto.cast import ballot_signing_message, sign_ballot, verify_cast_ballot
from crypto.codec import (
    decode_cast_ballot,
    decode_counter,
    decode_credential,
    encode_ballot,
    encode_cast_ballot,
    encode_counter,
    encode_credential,
)
from crypto.credential import (
    IssuerKey,
    credential_message,
    finalize_credential,
    generate_issuer_key,
    generate_token,
    issue_credential,
    request_credential,
    token_public_bytes,
    verify_credential,
)
from crypto.encoding import lp
from crypto.errors import (
    DecodeError,
    InvalidBallot,
    InvalidSignature,
    MessageRepresentativeOutOfRange,
)
from crypto.group import base_mul, random_scalar
from tests.support.ballots import Voter, new_voter, signed_ballot

W_SMALL, W_LARGE = 8950, 14300


@pytest.fixture(scope="module")
def setup():
    keys = {w: generate_issuer_key() for w in (W_SMALL, W_LARGE)}
    issuers = {w: IssuerKey("e1", w, k.public_key()) for w, k in keys.items()}
    election = ElectionContext("e1", Contest.referendum(), base_mul(random_scalar()))
    return keys, issuers, election


def voter(setup, choices) -> Voter:
    """An honest voter of the small class: credential and a signed ballot for ``choices``."""
    keys, issuers, election = setup
    return new_voter(election, issuers[W_SMALL], keys[W_SMALL], choices)


def test_issue_verify_and_cast(setup):
    _, issuers, election = setup
    v = voter(setup, [2])
    cred = v.credential
    verify_credential(issuers[W_SMALL], cred)
    raw = encode_cast_ballot(v.cast)
    again = decode_cast_ballot(raw)
    assert encode_cast_ballot(again) == raw
    verify_cast_ballot(election, issuers, again)
    assert decode_credential(encode_credential(cred)) == cred


def test_registrar_sees_neither_token_nor_message(setup):
    keys, issuers, _ = setup
    token = generate_token()
    tpk = token_public_bytes(token)
    r1 = request_credential(issuers[W_SMALL], tpk)
    r2 = request_credential(issuers[W_SMALL], tpk)
    msg = credential_message("e1", W_SMALL, tpk)
    for r in (r1, r2):
        assert tpk not in r.blinded_msg and msg not in r.blinded_msg
    assert r1.blinded_msg != r2.blinded_msg  # fresh blinding and prefix each time


def _expect(check, election, issuers, cast):
    with pytest.raises(InvalidBallot) as exc:
        verify_cast_ballot(election, issuers, cast)
    assert exc.value.check == check


def test_refusals(setup):
    _, issuers, election = setup
    v = voter(setup, [0])
    cred, ballot, good = v.credential, v.ballot, v.cast
    verify_cast_ballot(election, issuers, good)

    # claims the larger weight class with the small class's signature
    _expect("credential.signature", election, issuers,
            replace(good, credential=replace(cred, weight=W_LARGE)))
    # a weight class that has no key
    _expect("credential.weight", election, issuers,
            replace(good, credential=replace(cred, weight=1234)))
    # credential for another election
    _expect("credential.election_id", election, issuers,
            replace(good, credential=replace(cred, election_id="e2")))
    # forged signature bytes
    _expect("credential.signature", election, issuers,
            replace(good, credential=replace(cred, signature=bytes(len(cred.signature)))))
    bad_sig = bytearray(cred.signature)
    bad_sig[-1] ^= 1
    _expect("credential.signature", election, issuers,
            replace(good, credential=replace(cred, signature=bytes(bad_sig))))
    # msg_prefix changed
    _expect("credential.signature", election, issuers,
            replace(good, credential=replace(cred, msg_prefix=bytes(32))))
    # a credential reused by another token (the other token signs its own ballot)
    thief = generate_token()
    _expect("credential.token_public_key", election, issuers,
            signed_ballot(election, thief, cred, [1]))
    # ... or claims the credential's token but cannot sign for it
    _expect("signature", election, issuers, sign_ballot(thief, ballot, cred))
    # token signature tampered
    sig = bytearray(good.signature)
    sig[0] ^= 0x80
    _expect("signature", election, issuers, replace(good, signature=bytes(sig)))


def test_credential_from_the_wrong_class_key(setup):
    keys, issuers, election = setup
    token = generate_token()
    # the registrar signs with the large class key, the phone claims the small class (a
    # blinded message at or above the large key's modulus cannot be signed with it at all: RFC
    # 9474 §4.3 refuses it, so draw one below it)
    n_large = keys[W_LARGE].public_key().public_numbers().n
    req = request_credential(issuers[W_SMALL], token_public_bytes(token))
    while int.from_bytes(req.blinded_msg, "big") >= n_large:
        with pytest.raises(MessageRepresentativeOutOfRange):
            issue_credential(keys[W_LARGE], req.blinded_msg)
        req = request_credential(issuers[W_SMALL], token_public_bytes(token))
    wrong = issue_credential(keys[W_LARGE], req.blinded_msg)
    with pytest.raises(InvalidSignature):
        finalize_credential(req, wrong)


def test_verify_credential_direct(setup):
    _, issuers, _ = setup
    cred = voter(setup, [0]).credential
    with pytest.raises(InvalidSignature):
        verify_credential(issuers[W_LARGE], cred)
    with pytest.raises(InvalidSignature):
        verify_credential(IssuerKey("e2", W_SMALL, issuers[W_SMALL].public_key), cred)


def test_codec_rejects_malformed(setup):
    v = voter(setup, [0])
    cred = v.credential
    raw = encode_cast_ballot(v.cast)
    assert raw[:5] == b"\x02\x00\x00\x00\x01"  # version 2, counter 1
    for bad in (raw[:-1], raw + b"\x00", b"\x01" + raw[1:], b"\x03" + raw[1:], b"",
                raw[:1] + bytes(4) + raw[5:], raw[:4]):  # counter 0, truncated counter
        with pytest.raises(DecodeError):
            decode_cast_ballot(bad)
    with pytest.raises(DecodeError):
        decode_credential(encode_credential(replace(cred, weight=0)))


def test_an_issuer_key_is_rsa_2048_or_more_with_e_65537():
    """§8.2, checked wherever an issuer key is read (WeakIssuerKey, a DecodeError)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    from crypto.credential import IssuerKey, issuer_key_from_spki
    from crypto.errors import DecodeError, WeakIssuerKey

    def spki(key) -> bytes:
        return key.public_bytes(serialization.Encoding.DER,
                                serialization.PublicFormat.SubjectPublicKeyInfo)
    good = generate_issuer_key().public_key()
    assert issuer_key_from_spki("e", 1, spki(good)).public_key.public_numbers() == \
        good.public_numbers()
    for weak, why in ((rsa.generate_private_key(public_exponent=65537, key_size=1024),
                       "at least 2048"),
                      (rsa.generate_private_key(public_exponent=3, key_size=2048), "65537"),
                      (ec.generate_private_key(ec.SECP256R1()), "RSA public key")):
        with pytest.raises(WeakIssuerKey, match=why):
            issuer_key_from_spki("e", 1, spki(weak.public_key()))
        with pytest.raises(WeakIssuerKey):
            IssuerKey("e", 1, weak.public_key())
    for bad in (b"", b"\x30\x00", spki(good)[:-1], spki(good) + b"\x00"):
        with pytest.raises(DecodeError):
            issuer_key_from_spki("e", 1, bad)
def test_the_revote_counter_is_covered_by_the_token_signature(setup):
    """The counter is signed: an operator (or anyone without the token key) cannot renumber a
    ballot to reorder a token's ballots; the signing message is domain-separated (v2 label,
    then u32(counter), then the ballot's bytes)."""
    _, issuers, election = setup
    v = voter(setup, [0])
    good = sign_ballot(v.token, v.cast.ballot, v.credential, 7)
    verify_cast_ballot(election, issuers, good)
    for other in (1, 6, 8, 2**32 - 1):
        _expect("signature", election, issuers, replace(good, counter=other))
    assert ballot_signing_message(good.ballot, 7) == (
        lp(b"ownervote/v1/ballot-signature-v2") + (7).to_bytes(4, "big")
        + encode_ballot(good.ballot))
    # a v1 signature (no counter) does not verify as any counter
    v1 = v.token.sign(lp(b"ownervote/v1/ballot-signature") + encode_ballot(good.ballot))
    _expect("signature", election, issuers, replace(good, signature=v1))
    for bad in (0, -1, 2**32):
        with pytest.raises(ValueError):
            sign_ballot(v.token, v.cast.ballot, v.credential, bad)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 2**32 - 1))
def test_counter_encoding_round_trips(counter):
    raw = encode_counter(counter)
    assert len(raw) == 4 and decode_counter(raw) == counter and encode_counter(counter) == raw


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=8))
def test_counter_decoding_accepts_only_the_canonical_encoding(data):
    """Exactly four bytes, big-endian, not zero: anything else is refused (so a counter has one
    encoding, and the signature and the ledger entry pin it)."""
    try:
        counter = decode_counter(data)
    except DecodeError:
        assert len(data) != 4 or data == bytes(4)
    else:
        assert len(data) == 4 and counter >= 1 and encode_counter(counter) == data


@pytest.fixture(scope="module")
def cast(setup):
    return voter(setup, [1])


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(0, 2**32 - 1), st.integers(0, 5))
def test_a_cast_ballots_counter_round_trips_and_zero_or_a_cut_counter_is_refused(cast, counter,
                                                                                  cut):
    v = cast  # one voter's cast ballot, re-numbered (the signature is not checked here)
    raw = encode_cast_ballot(v.cast)
    mutated = raw[:1] + counter.to_bytes(4, "big") + raw[5:]
    if counter == 0:
        with pytest.raises(DecodeError):
            decode_cast_ballot(mutated)
    else:
        again = decode_cast_ballot(mutated)
        assert again.counter == counter and encode_cast_ballot(again) == mutated
    if cut:  # a counter of fewer than four bytes
        with pytest.raises(DecodeError):
            decode_cast_ballot(raw[:1] + raw[1 + min(cut, 4):])
    with pytest.raises(ValueError):
        replace(v.cast, counter=0)
