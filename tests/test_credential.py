"""Blind credentials and signed ballots: issuance round trip and every refusal."""

from dataclasses import replace

import pytest

from crypto.ballot import Contest, ElectionContext
from crypto.cast import sign_ballot, verify_cast_ballot
from crypto.codec import (
    decode_cast_ballot,
    decode_credential,
    encode_cast_ballot,
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
    for bad in (raw[:-1], raw + b"\x00", b"\x02" + raw[1:], b""):
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
