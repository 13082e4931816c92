"""The ballot box over a real ledger with witnesses: accept, receipt, and every refusal with
nothing stored (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import grpc
import pytest

from crypto.ballot import Contest, ElectionContext
from crypto.cast import sign_ballot
from crypto.codec import decode_cast_ballot, encode_cast_ballot
from crypto.credential import generate_token
from crypto.encoding import decode_event
from crypto.group import G, base_mul, random_scalar
from crypto.log.receipt import verify_receipt
from server.election.ballot_box import BallotBox, OpenElection
from server.errors import ServerError, code_of
from tests.election_support import voter
from tests.ledger_support import start_log
from tests.support.ballots import signed_ballot
from tests.support.registrars import Registrars, rsa_key

W = 8950
NOW = [1_800_000_000.0]


@pytest.fixture(scope="module")
def election():
    """One class, three registrars, k = 2: (the open election, registrar -> its private key)."""
    regs = Registrars("gate-2026", [W])
    ctx = ElectionContext("gate-2026", Contest.referendum(), base_mul(random_scalar()))
    return (OpenElection(ctx, regs.issuer_set(), NOW[0] - 10, NOW[0] + 3600),
            {r: rsa_key(r, W) for r in range(len(regs.names))})


@pytest.fixture
async def box(dsn, tmp_path):
    h = await start_log(dsn, tmp_path, n_witnesses=3, quorum=2)
    yield BallotBox(h.ledger, clock=lambda: NOW[0]), h
    await h.stop()


async def test_cast_gives_a_verifiable_receipt_and_a_revote_is_accepted(box, election):
    bb, h = box
    token, cred, cast = voter(election, 0)
    result = await bb.cast(election[0], cast)
    wits = [w.signer.verifier() for w in h.witnesses]
    entry = (await h.ledger.store.entries(result.receipt.index, 1))[0][0]
    verify_receipt(result.receipt, h.node.signer.verifier(), wits, 2, entry)
    event = decode_event(entry)
    assert event.kind == "ballot" and decode_cast_ballot(event.body) == cast
    revote = signed_ballot(election[0].context, token, cred, [1], counter=2)
    second = await bb.cast(election[0], revote)
    assert second.receipt.index > result.receipt.index


async def refused(bb, h, election, cast, code, check):
    before = (await h.ledger.store.head()).size
    with pytest.raises(ServerError) as exc:
        await bb.cast(election, cast)
    assert (code_of(exc.value), exc.value.check) == (code, check)
    assert (await h.ledger.store.head()).size == before  # nothing stored


async def test_a_stale_revote_counter_is_refused_and_stores_nothing(box, election):
    """A revote must carry a counter above the token's previous accepted one: the same counter
    with another ballot, or a lower one, is FAILED_PRECONDITION STALE_COUNTER; a gap is fine."""
    bb, h = box
    open_election, _ = election
    token, cred, cast = voter(election, 0)
    await bb.cast(open_election, cast)  # counter 1
    ctx = open_election.context
    await bb.cast(open_election, signed_ballot(ctx, token, cred, [1], counter=5))
    for stale in (5, 4, 1):
        await refused(bb, h, open_election, signed_ballot(ctx, token, cred, [2], counter=stale),
                      grpc.StatusCode.FAILED_PRECONDITION, "counter")
    with pytest.raises(ServerError) as exc:
        await bb.cast(open_election, signed_ballot(ctx, token, cred, [2], counter=3))
    assert exc.value.reason == "STALE_COUNTER" and "previous 5" in str(exc.value)
    await bb.cast(open_election, signed_ballot(ctx, token, cred, [2], counter=6))
    # another token's counters are its own
    _, _, first = voter(election, 1)
    await bb.cast(open_election, first)


async def test_a_token_over_the_revote_cap_is_refused(box, election):
    """At most max_ballots_per_token ballots of a token (its first and its revotes; the
    definition's, read by the sequencer's guard: this store holds none, so the default 5): the
    next is FAILED_PRECONDITION REVOTE_CAP, whatever its counter; other tokens are unaffected."""
    bb, h = box
    capped = election[0]
    token, cred, cast = voter(election, 0)
    await bb.cast(capped, cast)
    for counter in (2, 3, 4, 5):
        await bb.cast(capped, signed_ballot(capped.context, token, cred, [1], counter=counter))
    with pytest.raises(ServerError) as exc:
        await bb.cast(capped, signed_ballot(capped.context, token, cred, [2], counter=6))
    assert exc.value.reason == "REVOTE_CAP"
    await refused(bb, h, capped, signed_ballot(capped.context, token, cred, [2], counter=99),
                  grpc.StatusCode.FAILED_PRECONDITION, "revote_cap")
    _, _, other = voter(election, 2)
    await bb.cast(capped, other)


async def test_concurrent_revotes_of_one_token_land_in_counter_order(box, election):
    """Revotes of one token sent at once: each accepted one lands on the ledger above the
    counters before it (so every verifier accepts the ledger), the others are refused stale."""
    bb, h = box
    open_election, _ = election
    token, cred, cast = voter(election, 0)
    casts = [cast] + [signed_ballot(open_election.context, token, cred, [k % 3], counter=k)
                      for k in (4, 2, 3, 5)]
    results = await asyncio.gather(*(bb.cast(open_election, c) for c in casts),
                                   return_exceptions=True)
    accepted = sorted((r.receipt.index, c.counter) for r, c in zip(results, casts, strict=True)
                      if not isinstance(r, BaseException))
    assert accepted and [n for _, n in accepted] == sorted(n for _, n in accepted)
    assert all(e.reason == "STALE_COUNTER" for e in results if isinstance(e, BaseException))


async def test_refusals_store_nothing(box, election):
    bb, h = box
    open_election, _ = election
    token, cred, cast = voter(election, 2)
    first = await bb.cast(open_election, cast)
    # the identical ballot again: the original receipt, and nothing stored
    before = (await h.ledger.store.head()).size
    again = await bb.cast(open_election, decode_cast_ballot(encode_cast_ballot(cast)))
    assert (again.receipt.index, again.receipt.leaf_hash, again.ballot_hash) == (
        first.receipt.index, first.receipt.leaf_hash, first.ballot_hash)
    assert (await h.ledger.store.head()).size == before
    # a tampered proof
    sel = cast.ballot.selections[1]
    bad_branch = replace(sel.proof.branches[0], response=(sel.proof.branches[0].response + 1))
    tampered = replace(cast.ballot, selections=(
        cast.ballot.selections[0], replace(sel, proof=replace(sel.proof, branches=(
            bad_branch, *sel.proof.branches[1:]))), cast.ballot.selections[2]))
    await refused(bb, h, open_election, sign_ballot(token, tampered, cred),
                  grpc.StatusCode.INVALID_ARGUMENT, "selection[1].proof")
    # a ciphertext of 2 signed by its own voter
    sel0 = cast.ballot.selections[0]
    two = replace(sel0, ciphertext=replace(sel0.ciphertext, beta=sel0.ciphertext.beta + G))
    doubled = replace(cast.ballot, selections=(two, *cast.ballot.selections[1:]))
    await refused(bb, h, open_election, sign_ballot(token, doubled, cred),
                  grpc.StatusCode.INVALID_ARGUMENT, "selection[0].proof")
    # a forged credential (another weight class) and a reused credential on another token
    await refused(bb, h, open_election, replace(cast, credential=replace(cred, weight=14300)),
                  grpc.StatusCode.INVALID_ARGUMENT, "credential.weight")
    # one registrar's credential when the election needs two, and registrar 2's signature
    # passed off as registrar 1's
    _, _, short = voter(election, 0, registrars=[0])
    await refused(bb, h, open_election, short, grpc.StatusCode.INVALID_ARGUMENT,
                  "credential.signatures")
    t2, c2, _ = voter(election, 0, registrars=[0, 2])
    relabelled = replace(c2, signatures=(c2.signatures[0],
                                         replace(c2.signatures[1], registrar=1)))
    await refused(bb, h, open_election, signed_ballot(open_election.context, t2, relabelled, [0]),
                  grpc.StatusCode.INVALID_ARGUMENT, "credential.signatures[1].signature")
    thief = generate_token()
    stolen = signed_ballot(open_election.context, thief, cred, [0])
    await refused(bb, h, open_election, stolen, grpc.StatusCode.INVALID_ARGUMENT,
                  "credential.token_public_key")
    # a ballot for another election
    other = OpenElection(ElectionContext("other-2026", Contest.referendum(),
                                         open_election.context.public_key),
                         open_election.issuers, open_election.opens_at, open_election.closes_at)
    await refused(bb, h, other, cast, grpc.StatusCode.INVALID_ARGUMENT,
                  "credential.election_id")
    # after close
    late = replace(open_election, closes_at=NOW[0] - 1)
    _, _, fresh = voter(election, 0)
    await refused(bb, h, late, fresh, grpc.StatusCode.FAILED_PRECONDITION, "election_state")


async def test_seal_waits_for_ballots_in_flight_then_refuses(box, election):
    bb, h = box
    casts = [voter(election, i % 3)[2] for i in range(8)]
    tasks = [asyncio.create_task(bb.cast(election[0], c)) for c in casts]
    await asyncio.sleep(0)  # let them start
    await bb.seal("gate-2026")
    size_at_seal = (await h.ledger.store.head()).size
    results = await asyncio.gather(*tasks, return_exceptions=True)
    accepted = [r for r in results if not isinstance(r, Exception)]
    assert all(r.receipt.index < size_at_seal for r in accepted)  # none after the seal
    _, _, late = voter(election, 0)
    await refused(bb, h, election[0], late, grpc.StatusCode.FAILED_PRECONDITION,
                  "election_state")


async def test_replay_checks_of_one_turn_are_one_query():
    """LeafLookups: the checks asked for together are one lookup; answers go to each asker
    (None for a leaf not on the ledger); a failed lookup fails every asker of that batch."""
    from server.election.ballot_box import LeafLookups

    class Store:
        def __init__(self) -> None:
            self.calls: list[list[bytes]] = []
            self.fail = False

        async def indexes_of_leaves(self, leaves):
            self.calls.append(sorted(leaves))
            if self.fail:
                raise OSError("database down")
            return {b"a": 3, b"b": 7}

    store = Store()
    lookups = LeafLookups(store)
    got = await asyncio.gather(*(lookups.index_of(x) for x in (b"a", b"b", b"c", b"a")))
    assert got == [3, 7, None, 3]
    assert store.calls == [[b"a", b"b", b"c"]]
    assert await lookups.index_of(b"b") == 7 and len(store.calls) == 2
    store.fail = True
    results = await asyncio.gather(lookups.index_of(b"a"), lookups.index_of(b"c"),
                                   return_exceptions=True)
    assert all(isinstance(r, OSError) for r in results)
