"""The ledger verifier (crypto/election_audit.py): an honest election verifies; every rule a
server (or a forger of the ledger) could break is caught and names its entry."""

from __future__ import annotations

from dataclasses import replace

import pytest

from crypto.audit import LedgerVerifier
from crypto.codec import encode_cast_ballot
from crypto.election_audit import BallotOrderViolation
from crypto.encoding import Event, decode_event, encode_event
from crypto.issuance import decode_issuer_keys, encode_issuer_keys, sign_issuer_keys
from crypto.log.audit import AuditFailure
from crypto.records import (
    DecryptionSharesRecord,
    ElectionEvent,
    Transition,
    decode_aggregates,
    decode_decryption_shares,
    decode_result,
    encode_aggregates,
    encode_decryption_shares,
    encode_result,
    encode_transition,
)
from crypto.tally import aggregate, highest_per_token
from crypto.threshold import partial_decrypt
from tests.election_ledger import (
    CLOSE_AT,
    OPEN_AT,
    close_and_tally,
    open_election,
    publish_issuances,
    vote,
)

VOTES = [(0, [0]), (1, [0]), (2, [1]), (3, [0]), (4, [2]), (5, [0])]


def replay(entries) -> LedgerVerifier:
    v = LedgerVerifier()
    for i, e in enumerate(entries):
        v.apply(i, e)
    return v


def fails_at(entries, index: int, text: str) -> None:
    with pytest.raises(AuditFailure, match=text) as err:
        replay(entries)
    assert err.value.entry == index


def rebody(entry: bytes, body: bytes, subject: str | None = None) -> bytes:
    ev = decode_event(entry)
    return encode_event(Event(ev.kind, subject or ev.subject, body))


def body(entry: bytes) -> bytes:
    return decode_event(entry).body


@pytest.fixture(scope="module")
def honest():
    led = open_election()
    vote(led, VOTES)
    publish_issuances(led)  # a batch while the election is open, the final ones at the close
    token, credential = led.voters[1]  # owner 1 changes their mind with the same token
    revote, _, _ = led.cast(credential.weight, [1], token, credential)
    led.ballots.append(revote)
    led.voters.append((token, credential))
    led.add("ballot", encode_cast_ballot(revote))
    close_and_tally(led, present=[3, 1, 2])
    return led


def test_honest_election_verifies_and_counts_the_latest_ballot(honest):
    v = replay(honest.entries)
    e = v.election(honest.election_id)
    assert e.state_name == "PUBLISHED"
    assert v.election_family.ballots_verified == len(VOTES) + 1
    result = e.result
    # approve: owners 0, 3, 5 (owner 1 revoted to oppose); oppose: 1, 2; abstain: 4
    assert result.counts == (3, 2, 1)
    w = [honest.roll.owners[i].area for i in range(6)]
    assert result.areas == (w[0] + w[3] + w[5], w[1] + w[2], w[4])
    assert result.participating_owners == 6
    assert result.guardians == (1, 3)  # the first t to submit, in index order
    assert not result.quorum_met  # 6 owners of the roll's are far from 2/3


def test_entries_must_come_in_order(honest):
    v = LedgerVerifier()
    with pytest.raises(AuditFailure, match="expected entry 0"):
        v.apply(1, honest.entries[1])


def test_a_non_event_entry_is_refused(honest):
    fails_at([b"not an event", *honest.entries], 0, "length prefix too large")
    fails_at([encode_event(Event(ElectionEvent.ROLL, "x", b"")).replace(b"ownervote", b"ownerv0te"),
              *honest.entries], 0, "not an ownervote event")


def test_a_ballot_after_the_close_is_refused(honest):
    entries = list(honest.entries)
    closed = honest.index_of("state", 3)  # the fourth transition: OPEN -> CLOSED
    late = honest.entries[honest.index_of("ballot")]
    entries.insert(closed + 1, late)
    fails_at(entries, closed + 1, "ballot event while the election is CLOSED")


def test_a_ballot_before_the_opening_is_refused(honest):
    entries = list(honest.entries)
    opened = honest.index_of("state", 2)  # READY -> OPEN
    entries.insert(opened, honest.entries[honest.index_of("ballot")])
    fails_at(entries, opened, "ballot event while the election is READY")


def test_a_tampered_ballot_is_refused(honest):
    entries = list(honest.entries)
    i = honest.index_of("ballot", 2)
    cast = honest.ballots[2]
    sel = cast.ballot.selections[0]
    swapped = replace(cast, ballot=replace(cast.ballot, selections=(
        cast.ballot.selections[1], sel, *cast.ballot.selections[2:])))
    entries[i] = rebody(entries[i], encode_cast_ballot(swapped))
    fails_at(entries, i, "ballot|proof|signature")


def test_a_ballot_of_another_election_is_refused(honest):
    other = open_election("another-election")
    cast, _, _ = other.cast(other.roll.owners[0].area, [0])
    entries = list(honest.entries)
    i = honest.index_of("ballot")
    entries.insert(i, rebody(entries[i], encode_cast_ballot(cast)))
    fails_at(entries, i, "another election")


def test_opening_early_and_closing_early_are_refused(honest):
    entries = list(honest.entries)
    i = honest.index_of("state", 2)
    entries[i] = rebody(entries[i], encode_transition(Transition(3, 4, OPEN_AT - 1)))
    fails_at(entries, i, "opened before the opening time")
    entries = list(honest.entries)
    i = honest.index_of("state", 3)
    entries[i] = rebody(entries[i], encode_transition(Transition(4, 5, CLOSE_AT - 1)))
    fails_at(entries, i, "closed before the closing time")


def test_skipping_or_repeating_a_state_is_refused(honest):
    entries = list(honest.entries)
    i = honest.index_of("state", 3)
    entries.insert(i, entries[honest.index_of("state", 2)])  # READY -> OPEN again
    fails_at(entries, i, "transition from")
    entries = list(honest.entries)
    del entries[honest.index_of("issuer-keys", 1)]  # keys of 2 registrars remain: k = 2
    replay(entries[:honest.index_of("state", 2)])
    del entries[honest.index_of("issuer-keys")]
    fails_at(entries, honest.index_of("state", 1) - 2,
             "issuer keys of 1 registrar.*fewer than the credential threshold 2")


def test_a_dealing_before_every_key_is_refused(honest):
    entries = list(honest.entries)
    first_dealing = honest.index_of("dealing")
    d = entries.pop(first_dealing)
    entries.insert(honest.index_of("guardian-key"), d)
    fails_at(entries, honest.index_of("guardian-key"), "before all guardian keys")


def resigned_keys(honest, record, r: int = 0) -> bytes:
    """An issuer-keys record as registrar r signs it (so only the rule under test breaks)."""
    return encode_issuer_keys(sign_issuer_keys(honest.registrars.signing_key(r),
                                               honest.election_id, record))


def test_issuer_keys_must_cover_every_class(honest):
    entries = list(honest.entries)
    i = honest.index_of("issuer-keys")
    record = decode_issuer_keys(body(entries[i]))
    entries[i] = rebody(entries[i], resigned_keys(honest, replace(record, keys=record.keys[1:])))
    fails_at(entries, i, "one per weight class")


def test_issuer_keys_not_signed_by_their_registrar_are_refused(honest):
    """The server cannot publish issuer keys of its own making for a registrar: they must be
    signed by the key the definition (and the trust bundle) names for it."""
    entries = list(honest.entries)
    i = honest.index_of("issuer-keys")
    record = decode_issuer_keys(body(entries[i]))
    entries[i] = rebody(entries[i], resigned_keys(honest, record, r=1))  # another's key
    fails_at(entries, i, "registrar's signature does not verify")
    entries[i] = rebody(entries[i], resigned_keys(honest, replace(record,
                                                                  registrar="operator")))
    fails_at(entries, i, "is not one of the election's")
    entries = list(honest.entries)
    entries.insert(i + 1, entries[i])
    fails_at(entries, i + 1, "published issuer keys twice")


def test_wrong_aggregates_are_refused(honest):
    i = honest.index_of("aggregates")
    n = len(honest.definition.contest.options)
    # counting the first ballot of a token instead of its highest counter, or dropping a ballot
    first: dict = {}
    for c in honest.ballots:
        first.setdefault(c.ballot.token_public_key, (c.credential.weight, c.ballot))
    first_wins = aggregate(list(first.values()), n)
    dropped = aggregate(highest_per_token(honest.ballots[1:]), n)
    for wrong in (first_wins, dropped):
        entries = list(honest.entries)
        entries[i] = rebody(entries[i], encode_aggregates(wrong))
        fails_at(entries, i, "not those of the counted ballots")


def test_a_share_for_another_ciphertext_or_with_a_bad_proof_is_refused(honest):
    i = honest.index_of("decryption-shares")
    record = decode_decryption_shares(body(honest.entries[i]))
    aggs = decode_aggregates(body(honest.entries[honest.index_of("aggregates")]))
    labelled = aggs.labelled()
    g = record.guardian
    (l0, _), (l1, _) = record.shares[0], record.shares[1]
    # guardian g's share of aggregate l1, presented as its share of l0
    moved = partial_decrypt(honest.election_id, l1, honest.dkg.shares[g], labelled[l1])
    bad_share = tuple((label, moved if label == l0 else s) for label, s in record.shares)
    bad_proof = tuple((label, replace(s, proof=replace(s.proof, response=s.proof.response + 1))
                       if label == l0 else s) for label, s in record.shares)
    for shares in (bad_share, bad_proof):
        entries = list(honest.entries)
        entries[i] = rebody(entries[i], encode_decryption_shares(
            DecryptionSharesRecord(g, shares)))
        fails_at(entries, i, "bad decryption proof")


def test_missing_labels_and_duplicate_submissions_are_refused(honest):
    i = honest.index_of("decryption-shares")
    record = decode_decryption_shares(body(honest.entries[i]))
    entries = list(honest.entries)
    entries[i] = rebody(entries[i], encode_decryption_shares(
        DecryptionSharesRecord(record.guardian, record.shares[1:])))
    fails_at(entries, i, "one per non-trivial aggregate")
    entries = list(honest.entries)
    entries.insert(i + 1, honest.entries[i])
    fails_at(entries, i + 1, "submitted shares twice")


def test_a_wrong_result_is_refused(honest):
    i = honest.index_of("result")
    r = decode_result(body(honest.entries[i]))
    wrong_counts = replace(r, counts=(r.counts[0] + 1, *r.counts[1:]))
    wrong_outcome = replace(r, outcomes=(2, *r.outcomes[1:]))  # "passed" without quorum
    for wrong in (wrong_counts, wrong_outcome):
        entries = list(honest.entries)
        entries[i] = rebody(entries[i], encode_result(wrong))
        fails_at(entries, i, "not what the shares decrypt")
    absent = replace(r, guardians=(1, 5 if honest.definition.guardians >= 5 else 4))
    entries = list(honest.entries)
    entries[i] = rebody(entries[i], encode_result(absent))
    fails_at(entries, i, "guardians whose shares are on the ledger")
    entries = list(honest.entries)
    del entries[i]
    fails_at(entries, i, "published without a result")


def test_an_election_nobody_voted_in_publishes_without_guardians():
    led = open_election("empty-election")
    close_and_tally(led)
    assert "decryption-shares" not in led.kinds
    e = replay(led.entries).election("empty-election")
    assert e.result.counts == (0, 0, 0) and e.result.guardians == ()
    assert not e.result.quorum_met and set(e.result.outcomes) == {1}  # NO_QUORUM


def test_a_definition_must_name_its_roll(honest):
    entries = list(honest.entries)
    fails_at(entries[1:], 0, "roll sample/roll is not on the ledger")


def test_the_token_signature_is_checked_over_the_ballot_bytes_as_they_stand(honest):
    from crypto.cast import verify_cast_ballot
    from crypto.codec import decode_cast_ballot_bytes, encode_ballot
    from crypto.errors import InvalidBallot

    raw = encode_cast_ballot(honest.ballots[0])
    cast, ballot_bytes = decode_cast_ballot_bytes(raw)
    assert ballot_bytes == encode_ballot(cast.ballot)  # only canonical bytes decode
    verify_cast_ballot(honest.context, honest.issuers, cast, ballot_bytes=ballot_bytes)
    other = encode_ballot(honest.ballots[1].ballot)
    with pytest.raises(InvalidBallot, match="signature"):
        verify_cast_ballot(honest.context, honest.issuers, cast, ballot_bytes=other)


@pytest.mark.parametrize("bits, e, why", [(1024, 65537, "at least 2048 bits, not 1024"),
                                          (2048, 3, "public exponent is 65537")])
def test_an_issuer_key_weaker_than_the_spec_is_refused(honest, bits, e, why):
    """§8.2: at least 2048 bits and e = 65537. A weaker key published by the server is refused by
    the ledger verifier (and so by the auditor, the guardians and the phone, which rebuild the
    election with it)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    entries = list(honest.entries)
    i = honest.index_of("issuer-keys")
    record = decode_issuer_keys(body(entries[i]))
    weak = rsa.generate_private_key(public_exponent=e, key_size=bits).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    keys = ((record.keys[0][0], weak), *record.keys[1:])
    entries[i] = rebody(entries[i], resigned_keys(honest, replace(record, keys=keys)))
    fails_at(entries, i, why)


def _forged_participation(honest, owners: int, area: int) -> list[bytes]:
    i = honest.index_of("aggregates")
    entries = list(honest.entries)
    published = decode_aggregates(body(entries[i]))
    entries[i] = rebody(entries[i], encode_aggregates(replace(
        published, participating_owners=owners, participating_area=area)))
    return entries


def _replay_without_ballots(entries):
    from crypto.election_audit import ElectionVerifier
    v = ElectionVerifier(with_ballots=False)
    for i, entry in enumerate(entries):
        ev = decode_event(entry)
        if ev.kind != "ballot":
            v.apply(ev, i)
    return v


def test_a_participation_beyond_the_roll_is_refused_before_any_discrete_log(honest):
    """§4.3: a forged aggregates record whose participation exceeds the roll is refused at the
    aggregates, on the full replay and on the records-only path that skips ballots (which would
    otherwise take it as it stands and size the tally's discrete logs by it, up to 2^63)."""
    from crypto.election_audit import ElectionViolation

    i = honest.index_of("aggregates")
    roll = replay(honest.entries).election(honest.election_id).roll
    honest_view = _replay_without_ballots(honest.entries)  # the honest records pass
    assert honest_view.election(honest.election_id).state_name == "PUBLISHED"
    for owners, area in ((2**63, 2**63), (roll.total_owners + 1, roll.total_area),
                         (1, roll.total_area + 1)):
        entries = _forged_participation(honest, owners, area)
        fails_at(entries, i, "participation does not fit the roll")
        with pytest.raises(ElectionViolation, match="participation does not fit the roll"):
            _replay_without_ballots(entries)
    # at the roll's totals the records-only path has nothing to refuse at the aggregates: the
    # result, decrypted within those bounds, is what no longer matches
    entries = _forged_participation(honest, roll.total_owners, roll.total_area)
    with pytest.raises(ElectionViolation, match="not what the shares decrypt"):
        _replay_without_ballots(entries)


def test_a_decryption_shares_record_in_another_label_order_verifies(honest):
    """§12: producers list the labels in the aggregates' order; a verifier checks the set of
    labels, not their order (the record is kept as the bytes that were submitted)."""
    i = honest.index_of("decryption-shares")
    record = decode_decryption_shares(body(honest.entries[i]))
    labels = [label for label, _ in record.shares]
    assert labels == sorted(labels, key=lambda x: (int(x[7:x.index("]")]),
                                                   0 if x.endswith(".count") else 1))
    entries = list(honest.entries)
    entries[i] = rebody(entries[i], encode_decryption_shares(
        DecryptionSharesRecord(record.guardian, tuple(reversed(record.shares)))))
    assert replay(entries).election(honest.election_id).state_name == "PUBLISHED"
def _before_close(led) -> list[bytes]:
    """The honest entries up to and including the last ballot (the election still OPEN)."""
    last = max(i for i, k in enumerate(led.kinds) if k == "ballot")
    return list(led.entries[:last + 1])


def test_an_operator_replaying_an_earlier_ballot_is_refused(honest):
    """The operator re-appends a public ballot (a byte-identical entry, validly signed): the
    auditor's ledger verifier (and so the guardians' and the validating witnesses', which run
    it) refuses it as a replay, naming the entry — whichever earlier ballot it copies."""
    entries = _before_close(honest)
    for k in (0, 1, len(honest.ballots) - 1):
        copy = entries[honest.index_of("ballot", k)]
        fails_at(entries + [copy], len(entries), "byte-identical to an earlier entry")
    with pytest.raises(AuditFailure) as err:
        replay(entries + [entries[honest.index_of("ballot", 0)]])
    cause = err.value.__cause__
    assert isinstance(cause, BallotOrderViolation) and cause.reason == "REPLAYED_BALLOT"


def test_a_stale_revote_counter_is_refused_by_the_ledger_verifier(honest):
    """A validly signed ballot of a token whose counter is not above the token's previous
    ballot's (here owner 0's token again at counter 1, and owner 1's at 2 after its revote 2)
    is refused, though every signature and proof verifies."""
    entries = _before_close(honest)
    for owner, counter in ((0, 1), (1, 2), (1, 1)):
        token, credential = honest.voters[owner]
        cast, _, _ = honest.cast(credential.weight, [2], token, credential, counter=counter)
        entry = encode_event(Event("ballot", honest.election_id, encode_cast_ballot(cast)))
        fails_at(entries + [entry], len(entries), "is not above the token's previous")
        with pytest.raises(AuditFailure) as err:
            replay(entries + [entry])
        assert err.value.__cause__.reason == "STALE_COUNTER"
    token, credential = honest.voters[0]  # a higher counter is a revote, accepted
    cast, _, _ = honest.cast(credential.weight, [2], token, credential, counter=9)
    replay(entries + [encode_event(Event("ballot", honest.election_id,
                                         encode_cast_ballot(cast)))])


def test_a_token_over_the_revote_cap_is_refused_by_the_ledger_verifier():
    """The definition's max_ballots_per_token bounds a token's ballots on the ledger."""
    led = open_election("capped-election", max_ballots_per_token=2)
    vote(led, [(0, [0])])
    token, credential = led.voters[0]
    for counter in (2, 3):
        cast, _, _ = led.cast(credential.weight, [1], token, credential, counter=counter)
        led.add("ballot", encode_cast_ballot(cast))
    assert led.definition.max_ballots_per_token == 2
    fails_at(led.entries, len(led.entries) - 1, "the most the election allows")
    replay(led.entries[:-1])  # two ballots of the token: fine


def test_the_count_takes_the_highest_counter_of_each_token(honest):
    """The aggregates the verifier accepts are those of each token's highest counter (the
    honest ledger's owner 1 revoted with counter 2), and the verifier records the counters."""
    v = replay(honest.entries)
    e = v.election(honest.election_id)
    token1 = honest.voters[1][1].token_public_key
    assert e.tokens[token1] == (2, 2)
    assert all(e.tokens[c.ballot.token_public_key][0] >= c.counter for c in e.ballots)
    counted = highest_per_token(e.ballots)
    assert [b for w, b in counted if b.token_public_key == token1] == [honest.ballots[-1].ballot]


def test_a_ceremony_must_end_within_its_deadline_and_the_opening():
    """READY before the definition's ceremony deadline (the complaint window cut short) or
    after the opening time (the vote shortened) is refused."""
    from tests.election_ledger import OPEN_AT
    early = open_election("early-ceremony", ready_at=OPEN_AT - 601)
    fails_at(early.entries, early.index_of("state", 1), "before its deadline")
    late = open_election("late-ceremony", ready_at=OPEN_AT + 1)
    fails_at(late.entries, late.index_of("state", 1), "after the opening time")


def test_the_auditor_reports_a_weak_threshold_election():
    """t = 1 is accepted only with the definition's explicit override, and the audit and the
    auditor's report say WEAK THRESHOLD."""
    from clients.report import election_summary

    weak = open_election("weak-election", n=3, t=1)
    assert weak.definition.allow_weak_threshold
    e = replay(weak.entries).election("weak-election")
    assert e.weak_threshold and any("WEAK THRESHOLD" in line for line in election_summary(e))
    strong = replay(open_election("strong-election").entries).election("strong-election")
    assert not strong.weak_threshold
    assert not any("WEAK THRESHOLD" in line for line in election_summary(strong))
