"""The ballot box with its checks in worker processes (BallotVerifier, ``verify_workers``): a
valid ballot is accepted, every refusal names the same check as the in-process verification,
the seal still holds, and a dead worker is replaced."""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
from dataclasses import replace

import grpc
import pytest

from crypto.ballot import Contest, ElectionContext
from crypto.cast import sign_ballot, verify_cast_ballot
from crypto.codec import decode_cast_ballot, encode_ballot, encode_cast_ballot
from crypto.credential import generate_token
from crypto.encoding import decode_event
from crypto.errors import InvalidBallot
from crypto.group import G, base_mul, random_scalar
from crypto.log.receipt import verify_receipt
from server.config import ConfigError, load_config
from server.election import ballot_box
from server.election.ballot_box import (
    BallotBox,
    BallotBoxClosed,
    BallotRefused,
    BallotVerifier,
    OpenElection,
)
from server.election.ballot_points import points_of
from server.errors import code_of
from tests.election_support import voter
from tests.ledger_support import start_log
from tests.support.ballots import signed_ballot
from tests.support.registrars import Registrars, rsa_key

W = 8950
NOW = 1_800_000_000.0


@pytest.fixture(scope="module")
def election():
    """One class, three registrars, k = 2: (the open election, registrar -> its private key)."""
    regs = Registrars("gate-2026", [W])
    ctx = ElectionContext("gate-2026", Contest.referendum(), base_mul(random_scalar()))
    return (OpenElection(ctx, regs.issuer_set(), NOW - 10, NOW + 3600),
            {r: rsa_key(r, W) for r in range(len(regs.names))})


@pytest.fixture(scope="module")
def verifier():
    v = BallotVerifier(2)  # the pool starts on first use, inside the first test's loop
    yield v
    asyncio.run(v.close())


@pytest.fixture
async def box(dsn, tmp_path, verifier):
    h = await start_log(dsn, tmp_path, n_witnesses=3, quorum=2)
    yield BallotBox(h.ledger, clock=lambda: NOW, verifier=verifier), h
    await h.stop()


def in_process_check(open_election: OpenElection, cast) -> str:
    with pytest.raises(InvalidBallot) as exc:
        verify_cast_ballot(open_election.context, open_election.issuers, cast)
    return exc.value.check


async def refused_as_in_process(bb, h, open_election, cast, expected: str) -> None:
    assert in_process_check(open_election, cast) == expected
    before = (await h.ledger.store.head()).size
    with pytest.raises(BallotRefused) as exc:
        await bb.cast(open_election, cast)
    assert (code_of(exc.value), exc.value.check) == (grpc.StatusCode.INVALID_ARGUMENT, expected)
    assert (await h.ledger.store.head()).size == before  # nothing stored


async def test_valid_ballot_accepted_and_tampered_ones_refused_by_the_same_check(box, election):
    bb, h = box
    open_election, _ = election
    token, cred, cast = voter(election, 1)
    result = await bb.cast(open_election, cast)
    assert bb.verifier._pool is not None  # it did run in the workers
    wits = [w.signer.verifier() for w in h.witnesses]
    entry = (await h.ledger.store.entries(result.receipt.index, 1))[0][0]
    verify_receipt(result.receipt, h.node.signer.verifier(), wits, 2, entry)
    assert decode_cast_ballot(decode_event(entry).body) == cast

    sel = cast.ballot.selections[1]
    bad_branch = replace(sel.proof.branches[0], response=sel.proof.branches[0].response + 1)
    tampered = replace(cast.ballot, selections=(
        cast.ballot.selections[0], replace(sel, proof=replace(sel.proof, branches=(
            bad_branch, *sel.proof.branches[1:]))), cast.ballot.selections[2]))
    await refused_as_in_process(bb, h, open_election, sign_ballot(token, tampered, cred),
                                "selection[1].proof")
    sel0 = cast.ballot.selections[0]
    two = replace(sel0, ciphertext=replace(sel0.ciphertext, beta=sel0.ciphertext.beta + G))
    doubled = replace(cast.ballot, selections=(two, *cast.ballot.selections[1:]))
    await refused_as_in_process(bb, h, open_election, sign_ballot(token, doubled, cred),
                                "selection[0].proof")
    await refused_as_in_process(bb, h, open_election, replace(cast, signature=bytes(64)),
                                "signature")
    await refused_as_in_process(bb, h, open_election,
                                replace(cast, credential=replace(cred, weight=14300)),
                                "credential.weight")
    first, second = cred.signatures
    forged = replace(cred, signatures=(first, replace(second, signature=bytes(
        len(second.signature)))))
    await refused_as_in_process(bb, h, open_election, replace(cast, credential=forged),
                                "credential.signatures[1].signature")
    # k - 1 registrars, a registrar the election does not have, another registrar's signature
    _, _, short = voter(election, 0, registrars=[1])
    await refused_as_in_process(bb, h, open_election, short, "credential.signatures")
    unknown = replace(cred, signatures=(first, replace(second, registrar=7)))
    await refused_as_in_process(bb, h, open_election, replace(cast, credential=unknown),
                                "credential.signatures[1].registrar")
    t2, c2, _ = voter(election, 0, registrars=[0, 2])
    relabelled = replace(c2, signatures=(c2.signatures[0],
                                         replace(c2.signatures[1], registrar=1)))
    await refused_as_in_process(bb, h, open_election,
                                signed_ballot(open_election.context, t2, relabelled, [0]),
                                "credential.signatures[1].signature")
    thief = generate_token()
    stolen = signed_ballot(open_election.context, thief, cred, [0])
    await refused_as_in_process(bb, h, open_election, stolen, "credential.token_public_key")
    # a second election in the same workers (decoded and cached there separately)
    other = OpenElection(ElectionContext("other-2026", Contest.referendum(),
                                         open_election.context.public_key),
                         open_election.issuers, open_election.opens_at, open_election.closes_at)
    await refused_as_in_process(bb, h, other, cast, "credential.election_id")
    # bytes a worker cannot decode (an over-long credential election id) are checked in-process
    long_id = replace(cast, credential=replace(cred, election_id="x" * 200))
    await refused_as_in_process(bb, h, open_election, long_id, "credential.election_id")
    # the identical ballot again: the original entry's receipt (nothing appended)
    first = await bb.cast(open_election, cast)
    again = await bb.cast(open_election, decode_cast_ballot(encode_cast_ballot(cast)))
    assert again.receipt.index == first.receipt.index
    assert again.receipt.leaf_hash == first.receipt.leaf_hash


async def test_a_burst_is_checked_in_batches_each_ballot_getting_its_own_answer(box, election):
    bb, h = box
    valid = [voter(election, i % 3)[2] for i in range(10)]
    forged = [replace(voter(election, 0)[2], signature=bytes(64)) for _ in range(4)]
    burst = [*valid[:5], *forged, *valid[5:]]
    results = await asyncio.gather(*(bb.cast(election[0], c) for c in burst),
                                   return_exceptions=True)
    for cast, result in zip(burst, results, strict=True):
        if cast in forged:
            assert isinstance(result, BallotRefused) and result.check == "signature"
        else:
            assert result.ballot_hash == hashlib.sha256(encode_ballot(cast.ballot)).digest()
    assert (await h.ledger.store.head()).size >= len(valid)


async def test_seal_with_ballots_in_the_workers(box, election):
    bb, h = box
    casts = [voter(election, i % 3)[2] for i in range(8)]
    tasks = [asyncio.create_task(bb.cast(election[0], c)) for c in casts]
    await asyncio.sleep(0)  # they are now being verified in the workers, not yet in flight
    await bb.seal("gate-2026")
    size_at_seal = (await h.ledger.store.head()).size
    results = await asyncio.gather(*tasks, return_exceptions=True)
    for r in results:
        if isinstance(r, Exception):
            assert isinstance(r, BallotBoxClosed) and r.check == "election_state"
        else:
            assert r.receipt.index < size_at_seal  # none after the seal
    assert (await h.ledger.store.head()).size == size_at_seal


async def test_a_dead_worker_is_replaced(box, election):
    bb, h = box
    await bb.verifier.start()
    pool = bb.verifier._pool
    await bb.cast(election[0], voter(election, 0)[2])
    for pid in list(pool._processes):
        os.kill(pid, signal.SIGKILL)
    result = await bb.cast(election[0], voter(election, 2)[2])
    assert result.receipt.index >= 0
    assert bb.verifier._pool is not pool


def test_worker_decodes_an_election_once(election):
    open_election, _ = election
    key, spec = ballot_box.election_spec(open_election)
    _, _, cast = voter(election, 0)
    raw = encode_cast_ballot(cast)
    ballot_box._worker_elections.clear()
    assert ballot_box.verify_in_worker(key, None, raw) == ballot_box._NEED_SPEC
    points = points_of(cast)  # a valid ballot's answer: its ciphertext points, uncompressed
    assert len(points) == 3 * 128
    assert ballot_box.verify_in_worker(key, spec, raw) == points
    assert ballot_box.verify_in_worker(key, None, raw) == points  # cached
    ctx, issuers = ballot_box._worker_elections[key]
    assert ctx.hash == open_election.context.hash
    assert issuers.threshold == open_election.issuers.threshold == 2
    assert {r: ks[W].key_id for r, ks in issuers.keys.items()} == \
        {r: ks[W].key_id for r, ks in open_election.issuers.keys.items()}
    # another threshold is another election to a worker
    assert ballot_box.election_spec(replace(open_election, issuers=replace(
        open_election.issuers, threshold=3)))[0] != key
    assert ballot_box.verify_in_worker(key, None, raw[:-1]) == ballot_box._UNDECODABLE
    bad = replace(cast, signature=bytes(64))
    assert ballot_box.verify_in_worker(key, None, encode_cast_ballot(bad))[0] == "signature"
    _, _, short = voter(election, 0, registrars=[2])  # k - 1 registrars
    assert ballot_box.verify_in_worker(key, None, encode_cast_ballot(short))[0] == \
        "credential.signatures"
    ballot_box._worker_elections.clear()


def test_verify_workers_setting() -> None:
    base = {"OWNERVOTE_ADMIN_TOKEN": "0123456789abcdef", "OWNERVOTE_DEVELOPMENT": "true"}
    assert load_config(env=base).verify_workers == (os.cpu_count() or 1)
    assert load_config(env={**base, "OWNERVOTE_VERIFY_WORKERS": "0"}).verify_workers == 0
    assert load_config(env={**base, "OWNERVOTE_VERIFY_WORKERS": "3"}).verify_workers == 3
    for bad in ("-1", "two", "1.5"):
        with pytest.raises(ConfigError):
            load_config(env={**base, "OWNERVOTE_VERIFY_WORKERS": bad})
