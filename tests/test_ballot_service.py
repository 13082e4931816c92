"""The voter's path over real gRPC: credential (of k = 2 of the election's three registrars,
made in memory by tests/support/registrars.py, their issuer keys on the ledger through the
server's IssuanceIntake) → encrypted ballot → receipt, and the ballot box's refusals with their
status, field and reason (SQLite and PostgreSQL)."""

from __future__ import annotations

import contextlib
from dataclasses import replace

import grpc
import pytest
from ownervote.v1 import election_pb2, election_pb2_grpc, wire

from crypto.cast import sign_ballot
from crypto.credential import generate_token
from crypto.group import G, encode_point
from crypto.log.receipt import Receipt, verify_receipt
from crypto.records import ElectionState
from server.election.ballot_box import BallotBox
from server.election.ceremony import CeremonyStore
from server.election.rpc.ballot_service import BallotBoxService
from server.election.rpc.election_service import ElectionService
from server.election.store import ElectionStore
from server.ledger.node import add_ledger_service
from tests.election_support import new_election, publish_issuer_keys, registrars_of
from tests.ledger_support import start_log
from tests.support.ballots import signed_ballot
from tests.support.dkg import run_dkg
from tests.test_admin_service import expect

NOW = 1_900_000_000


@contextlib.asynccontextmanager
async def open_booth(dsn, tmp_path, verifier=None):
    """An OPEN election served by the ballot-box, election and ledger services (the ballot box
    checking in ``verifier``'s worker processes when one is given); yields (its registrars,
    the ballot-box stub, the store, the identity provider, the roll, the election, the log
    harness, the election stub)."""
    h = await start_log(dsn, tmp_path, n_witnesses=3, quorum=2)
    store = ElectionStore(h.engine, h.ledger)
    eid, roll = await new_election(store, guardians=3, threshold=2, open_time=NOW - 60,
                                   close_time=NOW + 3600)
    dkg = run_dkg(eid, 3, 2)
    await store.transition(eid, ElectionState.KEY_CEREMONY, NOW - 300)
    ceremony = CeremonyStore(h.engine, store)  # the ceremony on the ledger, as a phone reads it
    for pair in dkg.keys.values():
        await ceremony.register_key(eid, pair.public)
    for dealing in dkg.dealings:
        await ceremony.submit_dealing(eid, dealing)
    regs = await registrars_of(store, eid)
    await publish_issuer_keys(store, regs)  # the three registrars' signed keys
    await ceremony.finish(eid, NOW - 200)  # joint key, READY
    await store.transition(eid, ElectionState.OPEN, NOW - 60)
    h.dkg = dkg
    server = grpc.aio.server()
    election_pb2_grpc.add_BallotBoxServiceServicer_to_server(
        BallotBoxService(store, BallotBox(h.ledger, clock=lambda: NOW, verifier=verifier)),
        server)
    election_pb2_grpc.add_ElectionServiceServicer_to_server(ElectionService(store), server)
    add_ledger_service(server, h.node)  # what a phone checks receipts and its view against
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    h.booth_address = f"127.0.0.1:{port}"  # for clients that open their own channel
    channel = grpc.aio.insecure_channel(h.booth_address)
    try:
        yield (regs, election_pb2_grpc.BallotBoxServiceStub(channel), store, regs.idp, roll,
               eid, h,
               election_pb2_grpc.ElectionServiceStub(channel))
    finally:
        await channel.close()
        await server.stop(None)
        await h.stop()


@pytest.fixture
async def booth(dsn, tmp_path):
    async with open_booth(dsn, tmp_path) as b:
        yield b


async def enrol(booth, owner, registrars=None):
    """A token and its credential from the first k registrars (or ``registrars``)."""
    regs = booth[0]
    token = generate_token()
    return token, regs.credential(owner.owner_id, owner.area, token, registrars)


async def test_vote_and_verify_the_receipt(booth):
    _, box, store, _, roll, eid, h, public = booth
    token, cred = await enrol(booth, roll.owners[0])
    context = (await store.get_election(eid)).context()
    # what a phone reads before voting: the joint key, the election hash, the class keys
    e = (await public.GetElection(election_pb2.GetElectionRequest(election_id=eid))).election
    assert e.state == election_pb2.ELECTION_STATE_OPEN
    assert e.joint_public_key == encode_point(context.public_key)
    assert e.election_hash == context.hash
    assert sorted((k.registrar, k.weight, k.owners) for k in e.issuer_keys) == sorted(
        (r, c.area, c.owners) for r in range(3) for c in roll.weight_classes())
    cast = signed_ballot(context, token, cred, [0])
    resp = await box.CastBallot(wire.cast_ballot_request_pb(cast))
    r = resp.receipt
    receipt = Receipt(r.index, r.leaf_hash, tuple(r.inclusion_proof), r.signed_note)
    verify_receipt(receipt, h.node.signer.verifier(), [w.signer.verifier() for w in h.witnesses],
                   2)
    # the same ballot resent (a reply lost): its original receipt, nothing appended
    size = h.ledger.size
    again = (await box.CastBallot(wire.cast_ballot_request_pb(cast))).receipt
    assert (again.index, again.leaf_hash) == (r.index, r.leaf_hash)
    assert h.ledger.size == size
    # refusals with the protobuf path of the failed check
    sel = cast.ballot.selections[1]
    two = replace(sel, ciphertext=replace(sel.ciphertext, beta=sel.ciphertext.beta + G))
    bad = sign_ballot(token, replace(cast.ballot, selections=(
        cast.ballot.selections[0], two, cast.ballot.selections[2])), cred)
    await expect(box.CastBallot(wire.cast_ballot_request_pb(bad)),
                 grpc.StatusCode.INVALID_ARGUMENT, "cast_ballot.ballot.selections[1].proof",
                 "INVALID_SELECTION")
    first = cred.signatures[0]
    forged = replace(cast, credential=replace(cred, signatures=(
        replace(first, msg_prefix=bytes(32)), *cred.signatures[1:])))
    await expect(box.CastBallot(election_pb2.CastBallotRequest(
        cast_ballot=wire.cast_ballot_pb(forged))), grpc.StatusCode.INVALID_ARGUMENT,
        "cast_ballot.credential.signatures[0].signature", "INVALID_CREDENTIAL")
    # k - 1 = one registrar's credential (an operator holding one registrar's keys)
    t1, c1 = await enrol(booth, roll.owners[1], registrars=[1])
    await expect(box.CastBallot(wire.cast_ballot_request_pb(signed_ballot(context, t1, c1,
                                                                          [0]))),
                 grpc.StatusCode.INVALID_ARGUMENT, "cast_ballot.credential.signatures",
                 "INVALID_CREDENTIAL")
    # undecodable fields name their path
    pb = wire.cast_ballot_pb(cast)
    pb.ballot.selections[2].ciphertext.alpha = b"\x05" + bytes(32)
    await expect(box.CastBallot(election_pb2.CastBallotRequest(cast_ballot=pb)),
                 grpc.StatusCode.INVALID_ARGUMENT,
                 "cast_ballot.ballot.selections[2].ciphertext.alpha", "UNDECODABLE")
    pb = wire.cast_ballot_pb(cast)
    pb.ballot.limit_proof.branches[0].response = b"\xff" * 32  # not reduced mod q
    await expect(box.CastBallot(election_pb2.CastBallotRequest(cast_ballot=pb)),
                 grpc.StatusCode.INVALID_ARGUMENT, "cast_ballot.ballot.limit_proof.branches[0]"
                 ".response", "UNDECODABLE")
    await expect(box.CastBallot(election_pb2.CastBallotRequest()),
                 grpc.StatusCode.INVALID_ARGUMENT, "cast_ballot")
    # after close nothing is accepted, not even a revote
    await store.transition(eid, ElectionState.CLOSED, NOW)
    late = signed_ballot(context, token, cred, [1])
    await expect(box.CastBallot(wire.cast_ballot_request_pb(late)),
                 grpc.StatusCode.FAILED_PRECONDITION, None, "NOT_OPEN")
