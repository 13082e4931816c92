"""The ballot service with worker processes: a well-shaped ballot goes to the workers as its
canonical bytes concatenated from the protobuf fields (no point decoded on the event loop), with
exactly the refusals of the decoding path (SQLite and PostgreSQL)."""

from __future__ import annotations

import grpc
import pytest
from ownervote.v1 import crypto_pb2, election_pb2, wire

from crypto.ballot import Contest, ElectionContext
from crypto.codec import decode_cast_ballot, encode_cast_ballot
from crypto.errors import DecodeError
from crypto.group import base_mul, random_scalar
from crypto.records import ElectionState
from server.election.ballot_box import BallotVerifier
from tests.support.ballots import new_voter, signed_ballot
from tests.support.registrars import Registrars, rsa_key
from tests.test_admin_service import expect
from tests.test_ballot_service import NOW, enrol, open_booth
from tests.test_ballot_service import test_vote_and_verify_the_receipt as vote_and_verify


@pytest.fixture
async def booth(dsn, tmp_path):
    verifier = BallotVerifier(1)
    try:
        async with open_booth(dsn, tmp_path, verifier) as b:
            yield (*b, verifier)
    finally:
        await verifier.close()


def _count_decodes(monkeypatch) -> list[int]:
    calls: list[int] = []
    decode = wire.cast_ballot

    def counted(*args):
        calls.append(1)
        return decode(*args)

    monkeypatch.setattr(wire, "cast_ballot", counted)
    return calls


async def test_the_voter_path_and_its_refusals_with_workers(booth, monkeypatch):
    decodes = _count_decodes(monkeypatch)
    await vote_and_verify(booth[:8])  # every refusal and field path of the decoding path
    assert booth[8]._pool is not None  # checked in the workers
    # decoded on the loop only for the refusals that need it: the empty cast ballot, the two
    # undecodable fields (after the worker could not decode them), the ballot after the close
    assert 0 < len(decodes) <= 5


async def test_a_valid_ballot_is_not_decoded_on_the_loop(booth, monkeypatch):
    _, box, store, _, roll, eid, _, _, _ = booth
    token, cred = await enrol(booth[:8], roll.owners[0])
    context = (await store.get_election(eid)).context()
    cast = signed_ballot(context, token, cred, [1])
    decodes = _count_decodes(monkeypatch)
    resp = await box.CastBallot(wire.cast_ballot_request_pb(cast))
    assert resp.ballot_hash
    assert decodes == []


async def test_a_field_that_does_not_decode_is_refused_before_the_election_state(booth):
    _, box, store, _, roll, eid, _, _, _ = booth
    token, cred = await enrol(booth[:8], roll.owners[0])
    context = (await store.get_election(eid)).context()
    cast = signed_ballot(context, token, cred, [0])
    pb = wire.cast_ballot_pb(cast)
    pb.ballot.selections[0].proof.branches[1].a = b"\x02" + b"\xff" * 32  # x >= p
    pb.ballot.election_id = "no-such-election"
    await expect(box.CastBallot(election_pb2.CastBallotRequest(cast_ballot=pb)),
                 grpc.StatusCode.INVALID_ARGUMENT,
                 "cast_ballot.ballot.selections[0].proof.branches[1].a", "UNDECODABLE")
    pb = wire.cast_ballot_pb(cast)
    pb.ballot.election_id = "no-such-election"
    await expect(box.CastBallot(election_pb2.CastBallotRequest(cast_ballot=pb)),
                 grpc.StatusCode.NOT_FOUND, "cast_ballot.ballot.election_id",
                 "NO_SUCH_ELECTION")
    pb = wire.cast_ballot_pb(cast)
    pb.ballot.selections[1].ciphertext.beta = b"\x03" + b"\xff" * 32  # x >= p
    await store.transition(eid, ElectionState.CLOSED, NOW)
    await expect(box.CastBallot(election_pb2.CastBallotRequest(cast_ballot=pb)),
                 grpc.StatusCode.INVALID_ARGUMENT,
                 "cast_ballot.ballot.selections[1].ciphertext.beta", "UNDECODABLE")


def _sample_cast():
    """A ballot whose credential carries two registrars' signatures (0 and 2)."""
    regs = Registrars("gate-2026", [7])
    ctx = ElectionContext("gate-2026", Contest.referendum(), base_mul(random_scalar()))
    return new_voter(ctx, [regs.issuer(r, 7) for r in (0, 2)], [rsa_key(r, 7) for r in (0, 2)],
                     [2]).cast


def _signatures(pb, *registrars: int) -> None:
    """The credential's signatures relabelled with these registrar indices (copies of the
    first signature where more are asked for than it has)."""
    sigs = [crypto_pb2.CredentialSignature() for _ in registrars]
    for i, (sig, r) in enumerate(zip(sigs, registrars, strict=True)):
        sig.CopyFrom(pb.credential.signatures[min(i, len(pb.credential.signatures) - 1)])
        sig.registrar = r
    del pb.credential.signatures[:]
    pb.credential.signatures.extend(sigs)


def test_cast_ballot_bytes_are_the_canonical_encoding():
    cast = _sample_cast()
    pb = wire.cast_ballot_pb(cast)
    assert wire.cast_ballot_bytes(pb) == encode_cast_ballot(cast)
    assert decode_cast_ballot(wire.cast_ballot_bytes(pb)) == cast
    assert cast.credential.registrars == (0, 2)
    _signatures(pb, 0, 1, 5)  # well-shaped, however wrong: the workers' checks refuse it
    data = wire.cast_ballot_bytes(pb)
    assert data is not None and decode_cast_ballot(data) == wire.cast_ballot("cast_ballot", pb)


@pytest.mark.parametrize("spoil", [
    lambda pb: pb.ClearField("credential"),
    lambda pb: setattr(pb, "signature", bytes(63)),
    lambda pb: setattr(pb.ballot, "election_hash", bytes(31)),
    lambda pb: setattr(pb.ballot, "token_public_key", bytes(33)),
    lambda pb: pb.ballot.ClearField("selections"),
    lambda pb: setattr(pb.ballot.selections[0].ciphertext, "alpha", bytes(32)),
    lambda pb: setattr(pb.ballot.selections[2].ciphertext, "beta", bytes(34)),
    lambda pb: pb.ballot.selections[1].proof.ClearField("branches"),
    lambda pb: setattr(pb.ballot.limit_proof.branches[0], "b", bytes(65)),
    lambda pb: setattr(pb.ballot.limit_proof.branches[0], "challenge", bytes(31)),
    lambda pb: setattr(pb.ballot.selections[0].proof.branches[1], "response", bytes(33)),
    lambda pb: setattr(pb.credential, "weight", 0),
    lambda pb: setattr(pb.credential, "weight", 1 << 63),
    lambda pb: setattr(pb.credential.signatures[0], "msg_prefix", bytes(31)),
    lambda pb: setattr(pb.credential.signatures[1], "msg_prefix", bytes(33)),
    lambda pb: setattr(pb.credential, "token_public_key", bytes(31)),
    lambda pb: setattr(pb.credential.signatures[0], "signature", b""),
    lambda pb: setattr(pb.credential.signatures[1], "signature", bytes(1025)),
    lambda pb: pb.credential.ClearField("signatures"),  # no registrar at all
    lambda pb: _signatures(pb, 2, 0),  # registrars out of order
    lambda pb: _signatures(pb, 0, 0),  # one registrar twice
    lambda pb: _signatures(pb, 0, 16),  # no such index
    lambda pb: _signatures(pb, *range(17)),  # more than sixteen
])
def test_a_ballot_not_well_shaped_takes_the_decoding_path(spoil):
    pb = wire.cast_ballot_pb(_sample_cast())
    spoil(pb)
    assert wire.cast_ballot_bytes(pb) is None
    with pytest.raises(wire.WireError):  # the decoding path refuses it, naming the field
        wire.cast_ballot("cast_ballot", pb)


def test_a_well_shaped_ballot_decodes_in_the_worker_exactly_when_it_maps():
    pb = wire.cast_ballot_pb(_sample_cast())
    pb.ballot.selections[1].proof.branches[0].challenge = b"\xff" * 32  # not reduced mod q
    data = wire.cast_ballot_bytes(pb)
    assert data is not None
    with pytest.raises(DecodeError):
        decode_cast_ballot(data)
    with pytest.raises(wire.WireError):
        wire.cast_ballot("cast_ballot", pb)
    assert isinstance(pb, crypto_pb2.CastBallot)
