"""Blind credentials and signed ballots: issuance round trip and every refusal, with k of n
registrars (docs/protocol.md §8.2): each registrar signs its own blinding of one credential
message, and a credential counts only with valid signatures of k distinct registrars."""

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
    decode_tally_encodings,
    encode_ballot,
    encode_cast_ballot,
    encode_counter,
    encode_credential,
)
from crypto.credential import (
    Credential,
    IssuerKey,
    IssuerSet,
    credential_message,
    finalize_credential,
    generate_token,
    issue_credential,
    merge_credentials,
    request_credential,
    token_public_bytes,
    verify_credential,
    verify_credential_signature,
)
from crypto.encoding import lp
from crypto.errors import (
    DecodeError,
    InvalidBallot,
    InvalidCredential,
    InvalidSignature,
    MessageRepresentativeOutOfRange,
)
from crypto.group import base_mul, random_scalar
from tests.support.ballots import Voter, new_voter, signed_ballot
from tests.support.registrars import Registrars, rsa_key

W_SMALL, W_LARGE = 8950, 14300
K = 2  # of three registrars


@pytest.fixture(scope="module")
def setup():
    regs = Registrars("e1", [W_SMALL, W_LARGE], threshold=K)
    election = ElectionContext("e1", Contest.referendum(), base_mul(random_scalar()))
    return regs, regs.issuer_set(), election


def voter(setup, choices, registrars=(0, 1), weight=W_SMALL) -> Voter:
    """An honest voter of the class (default the small one) with the credential of
    ``registrars`` (default the first k) and a signed ballot for ``choices``."""
    regs, _, election = setup
    return new_voter(election, [regs.issuer(r, weight) for r in registrars],
                     [rsa_key(r, weight) for r in registrars], choices)


def encoded(cred: Credential, signatures=None) -> bytes:
    """The §8.2 credential bytes written out by hand, with ``signatures`` (registrar, prefix,
    signature) in place of the credential's when given: what a forger might send, including
    what no Credential object can hold."""
    signatures = cred.signatures if signatures is None else signatures
    return (lp(cred.election_id.encode()) + cred.weight.to_bytes(8, "big")
            + cred.token_public_key + bytes([len(signatures)])
            + b"".join(bytes([s.registrar]) + s.msg_prefix + lp(s.signature)
                       for s in signatures))


def test_issue_verify_and_cast(setup):
    _, issuers, election = setup
    for registrars in ((0, 1), (0, 2), (1, 2), (0, 1, 2)):  # any k of the three, or all
        v = voter(setup, [2], registrars)
        cred = v.credential
        assert cred.registrars == registrars
        assert all(s.msg_prefix == q.prepared_message[:32]
                   for s, q in zip(cred.signatures, v.requests, strict=True))
        verify_credential(issuers, cred)
        raw = encode_cast_ballot(v.cast)
        again = decode_cast_ballot(raw)
        assert encode_cast_ballot(again) == raw
        verify_cast_ballot(election, issuers, again)
        assert decode_credential(encode_credential(cred)) == cred
        assert encode_credential(cred) == encoded(cred)
    # an election of one registrar (threshold 1) takes a credential of one signature
    one = IssuerSet("e1", 1, {0: issuers.keys[0]})
    verify_cast_ballot(election, one, voter(setup, [1], (0,)).cast)


def test_registrar_sees_neither_token_nor_message(setup):
    regs, _, _ = setup
    token = generate_token()
    tpk = token_public_bytes(token)
    r1 = request_credential(regs.issuer(0, W_SMALL), tpk)
    r2 = request_credential(regs.issuer(0, W_SMALL), tpk)
    other = request_credential(regs.issuer(1, W_SMALL), tpk)  # the next registrar's request
    msg = credential_message("e1", W_SMALL, tpk)
    for r in (r1, r2, other):
        assert tpk not in r.blinded_msg and msg not in r.blinded_msg
    assert r1.blinded_msg != r2.blinded_msg  # fresh blinding and prefix each time
    # each registrar sees its own blinding of the one message, with its own prefix
    assert len({r1.blinded_msg, other.blinded_msg}) == 2
    assert r1.prepared_message[32:] == other.prepared_message[32:] == msg
    assert r1.prepared_message[:32] != other.prepared_message[:32]


def _expect(check, election, issuers, cast):
    with pytest.raises(InvalidBallot) as exc:
        verify_cast_ballot(election, issuers, cast)
    assert exc.value.check == check


def test_refusals(setup):
    _, issuers, election = setup
    v = voter(setup, [0])
    cred, ballot, good = v.credential, v.ballot, v.cast
    first, second = cred.signatures
    verify_cast_ballot(election, issuers, good)

    # claims the larger weight class with the small class's signatures
    _expect("credential.signatures[0].signature", election, issuers,
            replace(good, credential=replace(cred, weight=W_LARGE)))
    # a weight class that has no key
    _expect("credential.weight", election, issuers,
            replace(good, credential=replace(cred, weight=1234)))
    # credential for another election
    _expect("credential.election_id", election, issuers,
            replace(good, credential=replace(cred, election_id="e2")))
    # forged signature bytes, in either registrar's place
    zero = replace(first, signature=bytes(len(first.signature)))
    _expect("credential.signatures[0].signature", election, issuers,
            replace(good, credential=replace(cred, signatures=(zero, second))))
    bad_sig = bytearray(second.signature)
    bad_sig[-1] ^= 1
    _expect("credential.signatures[1].signature", election, issuers,
            replace(good, credential=replace(cred, signatures=(
                first, replace(second, signature=bytes(bad_sig))))))
    # msg_prefix changed
    _expect("credential.signatures[0].signature", election, issuers,
            replace(good, credential=replace(cred, signatures=(
                replace(first, msg_prefix=bytes(32)), second))))
    # the two registrars' prefixes swapped (each signature is over its own prefix)
    _expect("credential.signatures[0].signature", election, issuers,
            replace(good, credential=replace(cred, signatures=(
                replace(first, msg_prefix=second.msg_prefix),
                replace(second, msg_prefix=first.msg_prefix)))))
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


def test_k_minus_one_registrars_are_not_enough(setup):
    """k = 2: one registrar's valid signature alone is refused, whichever registrar; so is one
    registrar's signature counted twice (no Credential holds it, and its bytes do not decode)."""
    _, issuers, election = setup
    for r in range(3):
        v = voter(setup, [0], (r,))
        verify_credential(IssuerSet("e1", 1, issuers.keys), v.credential)  # valid on its own
        _expect("credential.signatures", election, issuers, v.cast)
        with pytest.raises(InvalidCredential, match="1 registrar signature"):
            verify_credential(issuers, v.credential)
    cred = voter(setup, [0]).credential
    only, _ = cred.signatures
    with pytest.raises(DecodeError):
        replace(cred, signatures=(only, only))
    with pytest.raises(DecodeError):
        decode_credential(encoded(cred, (only, only)))
    # three of three needs all three
    v = voter(setup, [0])
    _expect("credential.signatures", election, IssuerSet("e1", 3, issuers.keys), v.cast)
    verify_cast_ballot(election, IssuerSet("e1", 3, issuers.keys), voter(setup, [0],
                                                                         (0, 1, 2)).cast)


def test_registrar_indices_are_strictly_increasing_below_sixteen(setup):
    """Out of order, repeated, none, or above 15: no Credential holds it, and neither decoder
    (the full one nor the tally's fast one) reads its bytes."""
    v = voter(setup, [0])
    cred = v.credential
    first, second = cred.signatures
    bad = [(second, first), (first, first), (), (first, replace(second, registrar=16)),
           tuple(replace(first, registrar=i) for i in range(17))]
    raw = encode_cast_ballot(v.cast)
    start = raw.index(encode_credential(cred))
    for signatures in bad:
        with pytest.raises(DecodeError):
            replace(cred, signatures=signatures)
        with pytest.raises(DecodeError, match="registrar|signatures"):
            decode_credential(encoded(cred, signatures))
        forged = encoded(cred, signatures)
        cast = raw[:start - 4] + lp(forged) + raw[start + len(encode_credential(cred)):]
        for decode in (decode_cast_ballot, decode_tally_encodings):
            with pytest.raises(DecodeError, match="registrar|signatures"):
                decode(cast)
    assert decode_tally_encodings(raw).registrars == bytes(cred.registrars) == b"\x00\x01"


def test_a_registrar_the_election_does_not_have_or_without_keys_is_refused(setup):
    _, issuers, election = setup
    v = voter(setup, [0], (0, 2))
    cred = v.credential
    first, second = cred.signatures
    # registrar 5 is not one of the three
    _expect("credential.signatures[1].registrar", election, issuers,
            replace(v.cast, credential=replace(cred, signatures=(
                first, replace(second, registrar=5)))))
    # registrar 2 published no issuer keys (the set leaves it out)
    without = IssuerSet("e1", K, {r: issuers.keys[r] for r in (0, 1)})
    _expect("credential.signatures[1].registrar", election, without, v.cast)
    # nor a key of this class
    partial = IssuerSet("e1", K, {0: issuers.keys[0], 1: issuers.keys[1],
                                  2: {W_LARGE: issuers.keys[2][W_LARGE]}})
    _expect("credential.signatures[1].registrar", election, partial, v.cast)


def test_a_signature_counts_only_under_its_own_registrars_key(setup):
    """Registrar 2's (or registrar 0's second) signature labelled as registrar 1's: valid RSA,
    under another key; refused where it stands. An operator holding one registrar's issuer keys
    cannot make up the second signature from them."""
    regs, issuers, election = setup
    v = voter(setup, [0], (0, 2))
    first, third = v.credential.signatures
    _expect("credential.signatures[1].signature", election, issuers,
            replace(v.cast, credential=replace(v.credential, signatures=(
                first, replace(third, registrar=1)))))
    # registrar 0 signs a second blinding of the same message, labelled registrar 1
    q = request_credential(regs.issuer(0, W_SMALL), v.credential.token_public_key)
    again = finalize_credential(q, issue_credential(rsa_key(0, W_SMALL), q.blinded_msg))
    _expect("credential.signatures[1].signature", election, issuers,
            replace(v.cast, credential=replace(v.credential, signatures=(
                first, replace(again.signatures[0], registrar=1)))))
    # and at the signature level: the registrar index must be the key's
    with pytest.raises(InvalidSignature, match="another registrar"):
        verify_credential_signature(regs.issuer(1, W_SMALL), v.credential, third)
    with pytest.raises(InvalidSignature):
        verify_credential_signature(regs.issuer(2, W_SMALL), v.credential, first)


def test_credential_from_the_wrong_class_key(setup):
    regs, _, _ = setup
    token = generate_token()
    # the registrar signs with its large class key, the phone claims the small class (a
    # blinded message at or above the large key's modulus cannot be signed with it at all: RFC
    # 9474 §4.3 refuses it, so draw one below it)
    large = rsa_key(0, W_LARGE)
    n_large = large.public_key().public_numbers().n
    req = request_credential(regs.issuer(0, W_SMALL), token_public_bytes(token))
    while int.from_bytes(req.blinded_msg, "big") >= n_large:
        with pytest.raises(MessageRepresentativeOutOfRange):
            issue_credential(large, req.blinded_msg)
        req = request_credential(regs.issuer(0, W_SMALL), token_public_bytes(token))
    wrong = issue_credential(large, req.blinded_msg)
    with pytest.raises(InvalidSignature):
        finalize_credential(req, wrong)
    # nor does another registrar's key of the same class sign for this one
    with pytest.raises(InvalidSignature):
        finalize_credential(req, issue_credential(rsa_key(1, W_SMALL), req.blinded_msg))


def test_verify_credential_direct(setup):
    regs, issuers, _ = setup
    cred = voter(setup, [0]).credential
    first, _ = cred.signatures
    with pytest.raises(InvalidSignature):
        verify_credential_signature(regs.issuer(0, W_LARGE), cred, first)
    with pytest.raises(InvalidSignature):
        verify_credential_signature(IssuerKey("e2", W_SMALL, regs.issuer(0, W_SMALL).public_key),
                                    cred, first)
    with pytest.raises(InvalidSignature, match="32 bytes"):
        verify_credential_signature(regs.issuer(0, W_SMALL), cred,
                                    replace(first, msg_prefix=bytes(31)))
    verify_credential_signature(regs.issuer(0, W_SMALL), cred, first)
    with pytest.raises(InvalidCredential) as exc:
        verify_credential(IssuerSet("e2", K, {}), cred)
    assert exc.value.check == "credential.election_id"
    with pytest.raises(InvalidCredential) as exc:
        verify_credential(replace(issuers, keys={r: {W_LARGE: ks[W_LARGE]}
                                                 for r, ks in issuers.keys.items()}), cred)
    assert exc.value.check == "credential.weight"


def test_an_issuer_set_holds_only_keys_of_its_election_class_and_registrar(setup):
    regs, issuers, _ = setup
    assert issuers.weights == {W_SMALL, W_LARGE}
    assert list(issuers.for_class(W_SMALL)) == [0, 1, 2]
    key = regs.issuer(1, W_SMALL)
    for bad in ({0: {W_SMALL: key}},  # registrar 1's key filed under registrar 0
                {1: {W_LARGE: key}},  # under another class
                {1: {W_SMALL: IssuerKey("e2", W_SMALL, key.public_key, 1)}}):  # election
        with pytest.raises(DecodeError):
            IssuerSet("e1", 1, bad)
    for threshold in (0, 17):
        with pytest.raises(DecodeError):
            IssuerSet("e1", threshold, issuers.keys)
    for registrar in (-1, 16):
        with pytest.raises(DecodeError):
            IssuerKey("e1", W_SMALL, key.public_key, registrar)


def test_merging_keeps_registrar_order_and_refuses_repeats(setup):
    regs, issuers, _ = setup
    token = generate_token()
    tpk = token_public_bytes(token)

    def part(r: int) -> Credential:
        q = request_credential(regs.issuer(r, W_SMALL), tpk)
        return finalize_credential(q, issue_credential(rsa_key(r, W_SMALL), q.blinded_msg))
    two, zero = part(2), part(0)
    merged = merge_credentials([two, zero])  # in whatever order the phone got them
    assert merged.registrars == (0, 2)
    verify_credential(issuers, merged)
    with pytest.raises(ValueError):
        merge_credentials([zero, part(0)])
    with pytest.raises(ValueError):
        merge_credentials([])


def test_codec_rejects_malformed(setup):
    v = voter(setup, [0])
    cred = v.credential
    raw = encode_cast_ballot(v.cast)
    assert raw[:5] == b"\x03\x00\x00\x00\x01"  # version 3, counter 1
    for bad in (raw[:-1], raw + b"\x00", b"\x01" + raw[1:], b"\x02" + raw[1:],
                b"\x04" + raw[1:], b"", raw[:1] + bytes(4) + raw[5:],
                raw[:4]):  # counter 0, truncated counter
        with pytest.raises(DecodeError):
            decode_cast_ballot(bad)
    with pytest.raises(DecodeError):
        decode_credential(encode_credential(replace(cred, weight=0)))
    # u8(c) then c × (u8(registrar) || msg_prefix || LP(signature))
    enc = encode_credential(cred)
    head = len(lp(b"e1")) + 8 + 32
    first, second = cred.signatures
    assert enc[head] == 2 and enc[head + 1] == 0 and enc[head + 2:head + 34] == first.msg_prefix
    assert enc[head + 34:head + 38] == len(first.signature).to_bytes(4, "big")
    at = head + 38 + len(first.signature)
    assert enc[at] == 1 and enc[at + 1:] == second.msg_prefix + lp(second.signature)
    for bad in (enc[:head] + b"\x03" + enc[head + 1:], enc[:head] + b"\x01" + enc[head + 1:],
                enc[:head] + b"\x00" + enc[head + 1:], enc[:-1], enc + b"\x00"):
        with pytest.raises(DecodeError):
            decode_credential(bad)


def test_an_issuer_key_is_rsa_2048_or_more_with_e_65537():
    """§8.2, checked wherever an issuer key is read (WeakIssuerKey, a DecodeError)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    from crypto.credential import generate_issuer_key, issuer_key_from_spki
    from crypto.errors import WeakIssuerKey

    def spki(key) -> bytes:
        return key.public_bytes(serialization.Encoding.DER,
                                serialization.PublicFormat.SubjectPublicKeyInfo)
    good = generate_issuer_key().public_key()
    assert issuer_key_from_spki("e", 1, spki(good)).public_key.public_numbers() == \
        good.public_numbers()
    assert issuer_key_from_spki("e", 1, spki(good), 3).registrar == 3
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
