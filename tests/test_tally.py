"""The homomorphic tally: per-class weighting, latest ballot per token, threshold decryption."""

import random

import pytest

from crypto.ballot import Contest, ElectionContext, encrypt_ballot
from crypto.credential import CastBallot, Credential, CredentialSignature
from crypto.errors import InsufficientShares, InvalidShare
from crypto.records import ElectionEvent
from crypto.tally import (
    aggregate,
    area_label,
    count_label,
    decrypt_aggregates,
    highest_per_token,
)
from crypto.threshold import partial_decrypt
from tests.support.dkg import run_dkg

EID = "tally-test"


@pytest.fixture(scope="module")
def setup():
    run = run_dkg(EID, 5, 3)
    election = ElectionContext(EID, Contest.committee(["ann", "bob", "cai", "dai"], 0, 2),
                               run.result.joint_public_key)
    rng = random.Random(5)
    weights = [8950, 12025, 14300, 7580]
    cast = []
    for i in range(40):
        choice = sorted(rng.sample(range(4), rng.randint(0, 2)))
        token = i.to_bytes(32, "big")
        cast.append((rng.choice(weights), encrypt_ballot(election, token, choice), choice))
    return run, election, cast


def expected(cast):
    counts, areas = [0] * 4, [0] * 4
    for w, _, choice in cast:
        for c in choice:
            counts[c] += 1
            areas[c] += w
    return counts, areas


def shares_for(run, aggregates, guardians):
    return {label: [partial_decrypt(EID, label, run.shares[g], ct) for g in guardians]
            for label, ct in aggregates.labelled().items()}


def test_aggregate_and_decrypt_match_the_plaintexts(setup):
    run, _, cast = setup
    agg = aggregate([(w, b) for w, b, _ in cast], 4)
    assert agg.participating_owners == 40
    assert agg.participating_area == sum(w for w, _, _ in cast)
    assert set(agg.labelled()) == {count_label(i) for i in range(4)} | {area_label(i)
                                                                         for i in range(4)}
    totals = decrypt_aggregates(EID, agg, shares_for(run, agg, [2, 4, 5]),
                                run.result.verification_keys, 3, 10**7)
    assert (list(totals.counts), list(totals.areas)) == expected(cast)


def _unsigned(weight: int, ballot, counter: int) -> CastBallot:
    """A cast ballot for the counting rule alone (highest_per_token checks no signature)."""
    return CastBallot(ballot, Credential(EID, weight, ballot.token_public_key,
                                         (CredentialSignature(0, bytes(32), b"s"),)),
                      counter, bytes(64))


def test_the_count_takes_each_tokens_highest_counter_not_the_last_appended(setup):
    """A revote with a higher counter replaces the token's ballot; one with a lower counter
    appended after it (which no verifier lets onto a ledger) does not: the count takes the
    highest counter, whatever the order."""
    run, election, cast = setup
    w0, _, _ = cast[0]
    revote = encrypt_ballot(election, cast[0][1].token_public_key, [3])
    older = encrypt_ballot(election, cast[0][1].token_public_key, [1])
    ledger = [_unsigned(w, b, 2) for w, b, _ in cast] + [_unsigned(w0, revote, 7),
                                                         _unsigned(w0, older, 5)]
    counted = highest_per_token(ledger)
    assert len(counted) == 40 and counted[0] == (w0, revote)
    assert highest_per_token(reversed(ledger))[0] == (w0, revote)  # order does not matter
    new_cast = [(w0, revote, [3])] + cast[1:]
    agg = aggregate(counted, 4)
    totals = decrypt_aggregates(EID, agg, shares_for(run, agg, [1, 2, 3]),
                                run.result.verification_keys, 3, 10**7)
    assert (list(totals.counts), list(totals.areas)) == expected(new_cast)


def test_bad_or_missing_shares_are_refused(setup):
    run, _, cast = setup
    agg = aggregate([(w, b) for w, b, _ in cast[:5]], 4)
    shares = shares_for(run, agg, [1, 2])
    with pytest.raises(InsufficientShares):
        decrypt_aggregates(EID, agg, shares, run.result.verification_keys, 3, 10**7)
    shares = shares_for(run, agg, [1, 2, 3])
    # guardian 3 sends the share of another aggregate for option 0's area
    shares[area_label(0)][2] = shares[area_label(1)][2]
    with pytest.raises(InvalidShare) as exc:
        decrypt_aggregates(EID, agg, shares, run.result.verification_keys, 3, 10**7)
    assert exc.value.guardian == 3


def test_empty_election_decrypts_to_zero_without_guardians(setup):
    run, _, _ = setup
    agg = aggregate([], 4)
    totals = decrypt_aggregates(EID, agg, {}, run.result.verification_keys, 3, 10**7)
    assert totals.counts == (0, 0, 0, 0) and totals.areas == (0, 0, 0, 0)


def test_the_tally_view_reads_what_aggregation_needs_and_keeps_the_framing_checks():
    from crypto.codec import decode_tally_view, encode_cast_ballot
    from crypto.errors import DecodeError
    from tests.election_ledger import open_election, vote

    led = open_election("tally-view")
    vote(led, [(0, [0]), (1, [2]), (2, [1])])
    for c in led.ballots:
        raw = encode_cast_ballot(c)
        v = decode_tally_view(raw)
        assert (v.weight, v.token_public_key) == (c.credential.weight, c.ballot.token_public_key)
        assert v.ciphertexts == tuple(s.ciphertext for s in c.ballot.selections)
        # version, counter, LP(ballot) prefix, ballot version, LP(id), hash, token, n
        alpha = 1 + 4 + 4 + 1 + 4 + len("tally-view") + 32 + 32 + 1  # the first ciphertext's
        assert v.counter == c.counter == 1
        for bad in (raw[:-1], raw + b"\x00", raw[:alpha] + b"\x05" + raw[alpha + 1:]):
            with pytest.raises(DecodeError):
                decode_tally_view(bad)


def test_page_wise_aggregation_equals_the_aggregate_of_the_latest_ballots():
    """The server's chunked, parallel aggregation (sums per page, replaced ballots subtracted)
    gives byte for byte the aggregates an auditor computes from the latest ballot per token."""
    from concurrent.futures import ProcessPoolExecutor

    from crypto.codec import encode_cast_ballot
    from crypto.encoding import Event, encode_event
    from crypto.records import encode_aggregates
    from crypto.tally import aggregate, highest_per_token
    from server.election.tally import aggregate_pages
    from tests.election_ledger import open_election, vote

    led = open_election("paged-tally")
    vote(led, [(i, [i % 3]) for i in range(7)])
    for k in (1, 4, 1):  # revotes, one token twice, across pages
        token, credential = led.voters[k]
        cast, _, _ = led.cast(credential.weight, [2], token, credential)
        led.ballots.append(cast)
    other = open_election("another-tally")
    vote(other, [(0, [1])])
    entries = [encode_event(Event(ElectionEvent.BALLOT, "paged-tally", encode_cast_ballot(c)))
               for c in led.ballots]
    entries.insert(3, encode_event(Event(ElectionEvent.BALLOT, "another-tally",
                                         encode_cast_ballot(other.ballots[0]))))
    pages = [(s, entries[s:s + 4]) for s in range(0, len(entries), 4)]
    expected = aggregate(highest_per_token(led.ballots),
                         3)
    assert encode_aggregates(aggregate_pages("paged-tally", pages, 3)) == \
        encode_aggregates(expected)
    with ProcessPoolExecutor(2) as pool:
        assert encode_aggregates(aggregate_pages("paged-tally", pages, 3, pool)) == \
            encode_aggregates(expected)
    assert expected.participating_owners == 7


def test_kept_points_give_the_same_aggregates_and_a_wrong_copy_changes_nothing():
    """The close adds the points the ballot box kept uncompressed (ballot_points.py) instead of
    decompressing the ledger's; every copy is checked against the ledger, so a missing, negated,
    foreign or truncated copy is decoded from the ledger instead and the aggregates are the
    same, byte for byte."""
    from crypto.affine import XY_LEN, encode_xy
    from crypto.codec import encode_cast_ballot
    from crypto.encoding import Event, encode_event
    from crypto.records import encode_aggregates
    from crypto.tally import aggregate, highest_per_token
    from server.election.ballot_points import points_of
    from server.election.tally import aggregate_pages, page_sums
    from tests.election_ledger import open_election, vote

    led = open_election("kept-points")
    vote(led, [(i, [i % 3]) for i in range(6)])
    token, credential = led.voters[2]
    led.ballots.append(led.cast(credential.weight, [0], token, credential)[0])  # a revote
    entries = [encode_event(Event(ElectionEvent.BALLOT, "kept-points", encode_cast_ballot(c)))
               for c in led.ballots]
    pages = [(s, entries[s:s + 3]) for s in range(0, len(entries), 3)]
    expected = encode_aggregates(aggregate(highest_per_token(led.ballots), 3))
    kept = {i: points_of(c) for i, c in enumerate(led.ballots)}
    assert encode_aggregates(aggregate_pages("kept-points", pages, 3, points=kept)) == expected
    assert page_sums("kept-points", 0, entries[:3], 3, kept)[2] == 0  # none decompressed

    first = led.ballots[0].ballot.selections[0].ciphertext
    other = led.ballots[1].ballot.selections[0].ciphertext
    wrong = dict(kept)
    wrong[0] = encode_xy(-first.alpha) + kept[0][XY_LEN:]  # same x, other y
    wrong[1] = encode_xy(other.beta) + kept[1][XY_LEN:]  # another point
    wrong[3] = kept[3][:-1]  # truncated
    wrong[4] = kept[4][:XY_LEN] + bytes(XY_LEN) + kept[4][2 * XY_LEN:]  # off the curve
    del wrong[5]  # missing
    assert encode_aggregates(aggregate_pages("kept-points", pages, 3, points=wrong)) == expected
    assert page_sums("kept-points", 0, entries[:3], 3, wrong)[2] == 2
    assert page_sums("kept-points", 3, entries[3:6], 3, wrong)[2] == 3


def test_the_tally_encodings_agree_with_the_full_decoder_on_every_mutation():
    """decode_tally_encodings reads by position for speed: at every byte of a cast ballot, a
    changed or cut input is refused whenever the full decoder refuses its framing, never raises
    anything but DecodeError, and when the full decoder accepts, reads the same fields."""
    from crypto.codec import (
        decode_cast_ballot,
        decode_tally_encodings,
        encode_ballot,
        encode_cast_ballot,
        encode_credential,
    )
    from crypto.encoding import lp
    from crypto.errors import DecodeError
    from crypto.group import encode_point
    from tests.election_ledger import open_election, vote

    led = open_election("tally-encodings")
    vote(led, [(0, [1])])
    raw = encode_cast_ballot(led.ballots[0])
    point_errors = ("point", "scalar", "SEC1", "x-coordinate", "non-zero", "reduced")
    for i in range(len(raw)):
        for bad in (raw[:i], raw[:i] + bytes([raw[i] ^ 0x01]) + raw[i + 1:],
                    raw[:i] + bytes([(raw[i] - 1) % 256]) + raw[i + 1:],
                    raw[:i] + bytes([raw[i] ^ 0xFF]) + raw[i + 1:]):
            try:
                full = decode_cast_ballot(bad)
            except DecodeError as exc:
                full = exc
            try:
                fast = decode_tally_encodings(bad)
            except DecodeError:
                fast = None
            if isinstance(full, DecodeError):
                if not any(w in str(full) for w in point_errors):
                    assert fast is None, (i, str(full))
            else:
                assert fast is not None, i
                assert (fast.weight, fast.token_public_key, fast.counter, fast.registrars) == \
                    (full.credential.weight, full.ballot.token_public_key, full.counter,
                     bytes(full.credential.registrars))
                assert fast.ciphertexts == tuple(
                    (encode_point(s.ciphertext.alpha), encode_point(s.ciphertext.beta))
                    for s in full.ballot.selections)
    # a byte too many inside the ballot's or the credential's length-prefixed field
    ballot, credential = encode_ballot(led.ballots[0].ballot), \
        encode_credential(led.ballots[0].credential)
    for b, c in ((ballot + b"\0", credential), (ballot, credential + b"\0")):
        bad = b"\x03" + (1).to_bytes(4, "big") + lp(b) + lp(c) + led.ballots[0].signature
        for decode in (decode_cast_ballot, decode_tally_encodings):
            with pytest.raises(DecodeError, match="trailing"):
                decode(bad)


def test_the_dlog_bounds_are_checked_against_the_roll_before_any_discrete_log(setup):
    """§4.3: a forged participation (or roll) is refused before the bounded discrete log, which
    it would otherwise size (up to 2^64)."""
    from dataclasses import replace

    from crypto.errors import InconsistentTotals
    from crypto.tally import DlogBounds, dlog_bounds

    run, _, cast = setup
    agg = aggregate([(w, b) for w, b, _ in cast[:5]], 4)
    p = agg.participating_owners
    classes = ((7580, 2), (8950, 3), (12025, 2), (14300, 3))
    area, owners = sum(w * n for w, n in classes), sum(n for _, n in classes)
    assert dlog_bounds(agg, area, owners, classes) == DlogBounds(p, area)
    cases = [
        ((agg, area + 1, owners, classes), "total_area"),
        ((agg, area, owners + 1, classes), "total_owners"),
        ((replace(agg, participating_owners=owners + 1, participating_area=area), area, owners,
          classes), "participating_owners"),
        ((replace(agg, participating_owners=2**63, participating_area=2**64 - 1), area, owners,
          classes), "participating_owners"),
        ((replace(agg, participating_area=area + 1), area, owners, classes),
         "participating_area"),
        ((replace(agg, participating_owners=p, participating_area=p - 1), area, owners, classes),
         "participating_area"),
    ]
    for args, what in cases:
        with pytest.raises(InconsistentTotals) as exc:
            dlog_bounds(*args)
        assert exc.value.what == what
    # participation exactly at the roll's totals is possible
    full = replace(agg, participating_owners=owners, participating_area=area)
    assert dlog_bounds(full, area, owners, classes) == DlogBounds(owners, area)
    # decrypt_aggregates refuses a participation beyond its bound before it reads a share (with
    # no shares at all, InsufficientShares would come first otherwise)
    forged = replace(agg, participating_owners=2**63, participating_area=2**63)
    with pytest.raises(InconsistentTotals):
        decrypt_aggregates(EID, forged, {}, run.result.verification_keys, 3, 10**7)
    with pytest.raises(InsufficientShares):
        decrypt_aggregates(EID, agg, {}, run.result.verification_keys, 3, 10**7)
