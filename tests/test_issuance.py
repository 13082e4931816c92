"""Accountable issuance and k-of-n credentials (crypto/issuance.py, crypto/credential.py,
crypto/election_audit.py): what every verifier refuses of a registrar, of an operator holding
one registrar's keys, and of a ballot short of registrars (issue 12 §7, the verifier's side;
tests/test_registrar.py runs the same attacks over real processes)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from crypto.audit import LedgerVerifier
from crypto.cast import verify_cast_ballot
from crypto.codec import decode_credential, encode_cast_ballot, encode_credential
from crypto.credential import (
    CredentialSignature,
    finalize_credential,
    generate_token,
    issue_credential,
    merge_credentials,
    request_credential,
    token_public_bytes,
)
from crypto.encoding import Event, decode_event, encode_event
from crypto.errors import DecodeError, InvalidBallot, InvalidCredential
from crypto.issuance import (
    InvalidIssuance,
    Issuance,
    blinded_message_of,
    decode_issuances,
    encode_issuances,
    sign_issuances,
    verify_issuance,
)
from crypto.log.audit import AuditFailure
from tests.election_ledger import (
    IDP,
    close_and_tally,
    open_election,
    publish_issuances,
    vote,
)
from tests.support.ballots import signed_ballot

VOTES = [(0, [0]), (1, [1]), (2, [0])]


def replay(entries) -> LedgerVerifier:
    v = LedgerVerifier()
    for i, e in enumerate(entries):
        v.apply(i, e)
    return v


def fails_at(entries, index: int, text: str) -> None:
    with pytest.raises(AuditFailure, match=text) as err:
        replay(entries)
    assert err.value.entry == index


@pytest.fixture(scope="module")
def led():
    led = open_election("issuance-test")
    vote(led, VOTES)
    publish_issuances(led)
    return led


def add_ballot(led, cast) -> None:
    led.ballots.append(cast)
    led.add("ballot", encode_cast_ballot(cast))


def test_an_honest_election_with_two_of_three_registrars_verifies(led):
    led2 = open_election("issuance-honest")
    vote(led2, VOTES)
    publish_issuances(led2)
    vote(led2, [(3, [2])])
    close_and_tally(led2)
    e = replay(led2.entries).election("issuance-honest")
    assert e.state_name == "PUBLISHED"
    assert sum(e.issued.values()) == 2 * 4  # k = 2 registrars per voter, four voters
    assert e.final == {0, 1, 2}
    assert all(n <= e.issued[k] for k, n in e.counted_per_registrar.items())


def test_a_credential_of_one_registrar_is_refused_when_k_is_two(led):
    """An operator holding one registrar's keys mints a credential: k - 1 signatures."""
    token = generate_token()
    cred = led.registrars.credential("O010", led.roll.owners[9].area, token, registrars=[0])
    cast = signed_ballot(led.context, token, cred, [0])
    with pytest.raises(InvalidCredential) as err:
        verify_cast_ballot(led.context, led.issuers, cast)
    assert err.value.check == "credential.signatures"
    entries = [*led.entries, encode_event(Event("ballot", led.election_id,
                                                encode_cast_ballot(cast)))]
    fails_at(entries, len(entries) - 1, "1 registrar signature")


def test_signatures_of_two_registrars_on_different_messages_are_refused(led):
    weight = led.roll.owners[9].area
    token, other = generate_token(), generate_token()
    mine = led.registrars.credential("O010", weight, token, registrars=[0])
    theirs = led.registrars.credential("O011", weight, other, registrars=[1])
    forged = replace(mine, signatures=(mine.signatures[0], theirs.signatures[0]))
    cast = signed_ballot(led.context, token, forged, [0])
    with pytest.raises(InvalidCredential) as err:
        verify_cast_ballot(led.context, led.issuers, cast)
    assert err.value.check == "credential.signatures[1].signature"
    with pytest.raises(ValueError, match="different messages"):
        merge_credentials([mine, theirs])


def test_a_registrar_signature_counts_only_under_its_own_key(led):
    weight = led.roll.owners[9].area
    token = generate_token()
    cred = led.registrars.credential("O010", weight, token, registrars=[0, 1])
    relabelled = replace(cred, signatures=(cred.signatures[0],
                                           replace(cred.signatures[1], registrar=2)))
    with pytest.raises(InvalidCredential, match=r"signatures\[1\]"):
        verify_cast_ballot(led.context, led.issuers, signed_ballot(led.context, token,
                                                                   relabelled, [0]))
    with pytest.raises(DecodeError):  # one registrar's signature twice is not two registrars
        replace(cred, signatures=(cred.signatures[0], cred.signatures[0]))


def test_the_credential_encoding_is_canonical(led):
    token = generate_token()
    cred = led.registrars.credential("O010", led.roll.owners[9].area, token)
    data = encode_credential(cred)
    assert decode_credential(data) == cred
    n = data.index(token_public_bytes(token)) + 32
    swapped = data[:n] + b"\x05" + data[n + 1:]  # five signatures announced, two present
    with pytest.raises(DecodeError):
        decode_credential(swapped)


def test_voting_tokens_beyond_the_attested_issuances_are_refused():
    """A registrar (with k - 1 others) signs credentials it never records: more voting tokens
    carry its signature than it has issuance records, and the aggregates are refused."""
    led = open_election("issuance-unrecorded")
    vote(led, VOTES)
    token = generate_token()
    weight = led.roll.owners[9].area
    cred = led.registrars.credential("O010", weight, token)
    for r in (0, 1):  # the two registrars drop the record of this one credential
        led.registrars.issued[r] = [i for i in led.registrars.issued[r]
                                    if i.owner_id != "O010"]
    add_ballot(led, signed_ballot(led.context, token, cred, [0]))
    close_and_tally(led)
    i = [k for k, kind in enumerate(led.kinds) if kind == "aggregates"][0]
    fails_at(led.entries, i, "voting tokens in class .* carry registrar-0's signature")


def _batch_with(led, r: int, item: Issuance, seq: int = 1) -> bytes:
    from crypto.issuance import batch
    return encode_event(Event("issuances", led.election_id, encode_issuances(sign_issuances(
        led.registrars.signing_key(r), led.election_id,
        batch(led.registrars.names[r], seq, False, [item])))))


def _fresh_issuance(led, owner_id: str, weight: int, r: int = 0, **att_args) -> Issuance:
    token = generate_token()
    q = request_credential(led.registrars.issuer(r, weight), token_public_bytes(token))
    att, sig = IDP.attest(att_args.get("owner", owner_id), att_args.get("election",
                                                                        led.election_id),
                          [q.blinded_msg])
    from crypto.attestation import blinded_digest
    blind = issue_credential(led.registrars.private(r)[weight], q.blinded_msg)
    return Issuance(owner_id, weight, att.canonical_bytes(), sig,
                    blinded_digest(q.blinded_msg), blind)


def test_an_issuance_with_a_forged_attestation_is_refused(led):
    w = led.roll.owners[9].area
    item = _fresh_issuance(led, "O010", w)
    forged = replace(item, attestation_signature=bytes(64))
    entries = [*led.entries, _batch_with(led, 0, forged)]
    fails_at(entries, len(entries) - 1, r"issuances\[0\].attestation.*does not verify")


def test_an_issuance_attested_for_another_election_or_owner_is_refused(led):
    w = led.roll.owners[9].area
    for args, text in (({"election": "another-election"}, "another election"),
                       ({"owner": "O011"}, "another owner")):
        item = _fresh_issuance(led, "O010", w, **args)
        entries = [*led.entries, _batch_with(led, 0, item)]
        fails_at(entries, len(entries) - 1, text)


def test_an_issuance_for_another_class_is_refused(led):
    """The record names a class whose key did not make the blind signature."""
    w, other = led.roll.owners[9].area, led.roll.owners[10].area
    assert w != other
    item = replace(_fresh_issuance(led, "O010", w), weight=other)
    entries = [*led.entries, _batch_with(led, 0, item)]
    fails_at(entries, len(entries) - 1, r"issuances\[0\].blind_sig")
    off_roll = replace(_fresh_issuance(led, "O010", w), weight=1)
    entries = [*led.entries, _batch_with(led, 0, off_roll)]
    fails_at(entries, len(entries) - 1, "is not on the roll")


def test_a_second_issuance_to_one_owner_and_gaps_in_the_batches_are_refused(led):
    issued = decode_issuances(decode_event(led.entries[led.index_of("issuances")]).body)
    again = issued.issuances[0]
    entries = [*led.entries, _batch_with(led, 0, again)]
    fails_at(entries, len(entries) - 1, "issued to .* before")
    item = _fresh_issuance(led, "O010", led.roll.owners[9].area)
    entries = [*led.entries, _batch_with(led, 0, item, seq=5)]
    fails_at(entries, len(entries) - 1, "batch 5 of registrar-0, expected 1")
    entries = [*led.entries, _batch_with(led, 0, item, seq=1)]
    replay(entries)  # the honest next batch


def test_a_batch_not_signed_by_its_registrar_is_refused(led):
    item = _fresh_issuance(led, "O010", led.roll.owners[9].area)
    ev = decode_event(_batch_with(led, 0, item))
    record = decode_issuances(ev.body)
    resigned = encode_issuances(sign_issuances(led.registrars.signing_key(1), led.election_id,
                                               replace(record, signature=b"")))
    entries = [*led.entries, encode_event(Event("issuances", led.election_id, resigned))]
    fails_at(entries, len(entries) - 1, "registrar's signature does not verify")


def test_blinded_message_of_recovers_exactly_what_was_signed(led):
    w = led.roll.owners[9].area
    issuer = led.registrars.issuer(0, w)
    token = generate_token()
    q = request_credential(issuer, token_public_bytes(token))
    blind = issue_credential(led.registrars.private(0)[w], q.blinded_msg)
    assert blinded_message_of(issuer, blind) == q.blinded_msg
    with pytest.raises(DecodeError):
        blinded_message_of(issuer, blind[1:])
    n = issuer.public_key.public_numbers().n
    with pytest.raises(DecodeError):
        blinded_message_of(issuer, n.to_bytes(len(blind), "big"))
    cred = finalize_credential(q, blind)
    assert cred.signatures[0] == CredentialSignature(0, q.prepared_message[:32],
                                                     cred.signatures[0].signature)


def test_verify_issuance_names_the_expired_attestation(led):
    w = led.roll.owners[9].area
    item = _fresh_issuance(led, "O010", w)
    with pytest.raises(InvalidIssuance, match="expired") as err:
        verify_issuance(led.election_id, led.registrars.identity_provider,
                        led.registrars.issuer(0, w), item, not_expired_at=2 ** 40)
    assert err.value.check == "issuance.attestation"


def test_a_ballot_short_of_registrars_is_refused_by_the_ballot_check(led):
    token = generate_token()
    cred = led.registrars.credential("O010", led.roll.owners[9].area, token, registrars=[2])
    with pytest.raises(InvalidBallot):
        verify_cast_ballot(led.context, led.issuers,
                           signed_ballot(led.context, token, cred, [1]))
