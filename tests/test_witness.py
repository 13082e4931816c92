"""The witness: C2SP tlog-witness add-checkpoint semantics, every refusal, atomic state."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from ownervote.v1 import witness_pb2, witness_pb2_grpc

from crypto.log import merkle
from crypto.log.checkpoint import (
    Checkpoint,
    CosignatureSigner,
    CosignatureVerifier,
    SignedCheckpoint,
)
from crypto.log.note import Ed25519Signer, open_note
from server.status import details_of
from server.witness.service import FollowedLog
from tests.ledger_support import start_witness

ORIGIN = "log.example/test"


class Tree:
    """A toy log with its key, producing signed checkpoints and proofs."""

    def __init__(self, signer: Ed25519Signer) -> None:
        self.signer = signer
        self.leaves: list[bytes] = []

    def grow(self, n: int, tag: bytes = b"") -> None:
        self.leaves += [merkle.leaf_hash(tag + b"%d" % (len(self.leaves) + i)) for i in range(n)]

    def note(self, size: int | None = None, root: bytes | None = None, signer=None) -> bytes:
        size = len(self.leaves) if size is None else size
        root = merkle.root_from_leaves(self.leaves[:size]) if root is None else root
        return SignedCheckpoint.sign(Checkpoint(ORIGIN, size, root),
                                     signer or self.signer).encode()

    def proof(self, old: int, new: int | None = None) -> list[bytes]:
        new = len(self.leaves) if new is None else new
        if old in (0, new):
            return []
        return merkle.consistency_proof(self.leaves[:new], old)


@pytest.fixture
async def setup(tmp_path):
    signer = Ed25519Signer.generate(ORIGIN)
    w = await start_witness(tmp_path, "witness.example", [FollowedLog(ORIGIN, signer.verifier())])
    channel = grpc.aio.insecure_channel(w.address)
    stub = witness_pb2_grpc.WitnessServiceStub(channel)
    yield Tree(signer), w, stub
    await channel.close()
    await w.stop()


async def add(stub, old, proof, note):
    return await stub.AddCheckpoint(witness_pb2.AddCheckpointRequest(
        old_size=old, consistency_proof=proof, signed_note=note))


async def refused(stub, old, proof, note):
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await add(stub, old, proof, note)
    return details_of(exc.value)


async def test_cosigns_growth_and_refuses_fork_and_rollback(setup):
    tree, w, stub = setup
    tree.grow(5)
    resp = await add(stub, 0, [], tree.note())
    verifier = w.signer.verifier()
    cosigned = SignedCheckpoint.parse(tree.note()).with_signatures(
        b"".join(resp.cosignature_lines)).encode()
    open_note(cosigned, [verifier])  # the cosignature verifies
    assert CosignatureVerifier.timestamp(
        SignedCheckpoint.parse(cosigned).signatures[-1]) > 0
    tree.grow(7)
    await add(stub, 5, tree.proof(5), tree.note())
    # the same size again with the same root: fine (idempotent)
    await add(stub, 12, [], tree.note())

    # a fork: same size, another root, signed by the log
    fork = tree.note(12, merkle.root_from_leaves([merkle.leaf_hash(b"x")] * 12))
    info = await refused(stub, 12, [], fork)
    assert info["code"] == grpc.StatusCode.FAILED_PRECONDITION
    assert info["reason"] == "ROOT_MISMATCH"

    # a rollback: presenting an older size than the witness's latest
    info = await refused(stub, 5, tree.proof(5), tree.note())
    assert info["code"] == grpc.StatusCode.FAILED_PRECONDITION
    assert info["reason"] == "OLD_SIZE_MISMATCH" and info["metadata"]["latest_size"] == "12"
    # a rewritten history: a bigger tree that does not extend the co-signed one
    other = Tree(tree.signer)
    other.grow(20, b"rewritten")
    info = await refused(stub, 12, other.proof(12), other.note())
    assert info["code"] == grpc.StatusCode.INVALID_ARGUMENT
    assert info["reason"] == "BAD_CONSISTENCY_PROOF"
    assert (await w.witness.store.get(ORIGIN)).size == 12


async def test_every_malformed_request_is_refused_and_leaves_the_store_unchanged(setup):
    tree, w, stub = setup
    tree.grow(4)
    await add(stub, 0, [], tree.note())
    before = await w.witness.store.get(ORIGIN)
    tree.grow(4)
    good_proof, good_note = tree.proof(4), tree.note()
    stranger = Ed25519Signer.generate("other.example/log")
    unknown_origin = SignedCheckpoint.sign(
        Checkpoint("other.example/log", 8, merkle.root_from_leaves(tree.leaves)), stranger).encode()
    impostor = Ed25519Signer.generate(ORIGIN)  # same name, another key
    bad_proof = [bytes(32)] + good_proof[1:]
    cases = [
        (4, good_proof, b"", grpc.StatusCode.INVALID_ARGUMENT, "INVALID_FIELD"),
        (4, good_proof, b"not a note", grpc.StatusCode.INVALID_ARGUMENT, "INVALID_FIELD"),
        (4, [b"short"], good_note, grpc.StatusCode.INVALID_ARGUMENT, "INVALID_FIELD"),
        (4, good_proof, unknown_origin, grpc.StatusCode.NOT_FOUND, "UNKNOWN_ORIGIN"),
        (4, good_proof, tree.note(signer=impostor), grpc.StatusCode.PERMISSION_DENIED,
         "NO_LOG_SIGNATURE"),
        (9, good_proof, good_note, grpc.StatusCode.INVALID_ARGUMENT, "OLD_SIZE_TOO_LARGE"),
        (3, tree.proof(3), good_note, grpc.StatusCode.FAILED_PRECONDITION, "OLD_SIZE_MISMATCH"),
        (4, bad_proof, good_note, grpc.StatusCode.INVALID_ARGUMENT, "BAD_CONSISTENCY_PROOF"),
        (4, good_proof[:-1], good_note, grpc.StatusCode.INVALID_ARGUMENT,
         "BAD_CONSISTENCY_PROOF"),
        (4, [], tree.note(4), grpc.StatusCode.OK, None),  # same size & root: accepted
        (4, [bytes(32)], tree.note(4), grpc.StatusCode.INVALID_ARGUMENT, "BAD_CONSISTENCY_PROOF"),
    ]
    for old, proof, note, code, reason in cases:
        if code == grpc.StatusCode.OK:
            await add(stub, old, proof, note)
            continue
        info = await refused(stub, old, proof, note)
        assert (info["code"], info["reason"]) == (code, reason), (old, reason, info)
        assert await w.witness.store.get(ORIGIN) == before
    await add(stub, 4, good_proof, good_note)
    assert (await w.witness.store.get(ORIGIN)).size == 8


async def latest(stub, origin=ORIGIN):
    return await stub.GetLatestCheckpoint(witness_pb2.GetLatestCheckpointRequest(origin=origin))


async def test_get_latest_checkpoint_answers_the_note_it_cosigned_last(setup):
    tree, w, stub = setup
    for origin, code, reason in (
            ("other.example/log", grpc.StatusCode.NOT_FOUND, "UNKNOWN_ORIGIN"),
            (ORIGIN, grpc.StatusCode.NOT_FOUND, "NO_COSIGNED_CHECKPOINT"),  # nothing yet
            ("", grpc.StatusCode.INVALID_ARGUMENT, "INVALID_FIELD"),
            ("x" * 256, grpc.StatusCode.INVALID_ARGUMENT, "INVALID_FIELD")):
        with pytest.raises(grpc.aio.AioRpcError) as exc:
            await latest(stub, origin)
        info = details_of(exc.value)
        assert (info["code"], info["reason"], info["field"]) == (code, reason, "origin"), origin
    tree.grow(5)
    stranger = CosignatureSigner.generate("stranger.example")  # a line the log passed along
    submitted = SignedCheckpoint.parse(tree.note()).cosign(stranger).encode()
    resp = await add(stub, 0, [], submitted)
    got = await latest(stub)
    assert got.tree_size == 5
    kept = SignedCheckpoint.parse(got.signed_note)
    assert kept.checkpoint.root_hash == merkle.root_from_leaves(tree.leaves)
    # the log's line, then this witness's own — the very line it answered — and nothing else
    assert [s.line().encode() for s in kept.signatures[1:]] == list(resp.cosignature_lines)
    assert kept.signatures[0] == SignedCheckpoint.parse(tree.note()).signatures[0]
    _, verified = open_note(got.signed_note, [tree.signer.verifier(), w.signer.verifier()])
    assert len(verified) == 2
    # a refused checkpoint (a fork) leaves it; a new one replaces it
    fork = tree.note(5, merkle.root_from_leaves([merkle.leaf_hash(b"x")] * 5))
    await refused(stub, 5, [], fork)
    assert (await latest(stub)).signed_note == got.signed_note
    tree.grow(3)
    await add(stub, 5, tree.proof(5), tree.note())
    assert (await latest(stub)).tree_size == 8


async def test_check_and_store_is_atomic_under_concurrency(setup):
    tree, w, stub = setup
    tree.grow(3)
    await add(stub, 0, [], tree.note())
    tree.grow(5)
    note_a = tree.note()
    proof_a = tree.proof(3)
    results = await asyncio.gather(*(add(stub, 3, proof_a, note_a) for _ in range(8)),
                                   return_exceptions=True)
    ok = [r for r in results if not isinstance(r, Exception)]
    errors = [details_of(r)["reason"] for r in results if isinstance(r, Exception)]
    assert len(ok) >= 1 and all(e == "OLD_SIZE_MISMATCH" for e in errors)
    assert (await w.witness.store.get(ORIGIN)).size == 8


async def test_validating_witness(dsn, tmp_path):
    from crypto.log.checkpoint import verify_checkpoint
    from tests.ledger_support import start_log

    def validator(index: int, entry: bytes) -> None:
        if entry.startswith(b"bad"):
            raise ValueError("not a valid event")

    h = await start_log(dsn, tmp_path, n_witnesses=2, quorum=2, validator=validator)
    try:
        r = await h.ledger.append_with_receipt(b"good entry", timeout=10)
        vkeys = [w.validating_signer.verifier() for w in h.witnesses]
        _, names = verify_checkpoint(r.signed_note, h.node.signer.verifier(), vkeys, 2)
        assert {n for n, _ in names} == {"witness-0.example/validated",
                                         "witness-1.example/validated"}
        # it keeps the checkpoint with both its lines: its plain and its validated cosignature
        kept = await h.witnesses[0].witness.latest_checkpoint(h.node.signer.name)
        assert kept.size == r.tree_size
        assert [s.name for s in SignedCheckpoint.parse(kept.cosigned_note).signatures] == [
            h.node.signer.name, "witness-0.example", "witness-0.example/validated"]
        # a bad entry: the validating witnesses refuse, so no receipt can be co-signed
        bad = await h.ledger.append(b"bad entry")
        with pytest.raises(TimeoutError):
            await h.ledger.receipt(bad.index, timeout=1.5)
        w0 = h.witnesses[0]
        state = await w0.witness.store.get(h.node.signer.name)
        assert state.size == r.tree_size  # it did not advance past the bad entry
        with pytest.raises(Exception) as exc:
            await w0.witness.add_checkpoint(state.size, await h.ledger.store.consistency_proof(
                state.size, bad.tree_size) if state.size else [], bad.signed_note)
        assert getattr(exc.value, "reason", "") == "VALIDATION_FAILED"
        assert exc.value.metadata["index"] == str(bad.index)
    finally:
        await h.stop()


async def test_election_validating_witnesses_replay_every_rule(dsn, tmp_path):
    """Witnesses running the ledger verifier co-sign an honest election, catch up after losing
    their validator state (a restart), and refuse a ballot after the close (appended by a log
    without the sequencer's guard: an operator's modified server)."""
    from server.witness.__main__ import election_validator
    from tests.election_ledger import close_and_tally, open_election, vote
    from tests.ledger_support import start_log

    led = open_election("witnessed-election")
    vote(led, [(0, [0]), (1, [1]), (2, [0])])
    late, _, _ = led.cast(led.roll.owners[3].area, [0])  # made while open, sent after the close
    close_and_tally(led)
    h = await start_log(dsn, tmp_path, n_witnesses=2, quorum=2,
                        validator_factory=election_validator, guard=False)
    try:
        opened = led.index_of("ballot")
        for e in led.entries[:opened]:
            await h.ledger.append(e)
        await h.ledger.append_with_receipt(led.entries[opened], timeout=20)
        for w in h.witnesses:  # as after a restart: the verifier must replay entries 0..size
            w.witness._validators.clear()
        for e in led.entries[opened + 1:-1]:
            await h.ledger.append(e)
        r = await h.ledger.append_with_receipt(led.entries[-1], timeout=20)
        assert r.tree_size == len(led.entries)
        from crypto.codec import encode_cast_ballot
        from crypto.encoding import Event, encode_event
        from crypto.records import ElectionEvent
        bad = await h.ledger.append(encode_event(Event(ElectionEvent.BALLOT, led.election_id,
                                                       encode_cast_ballot(late))))
        with pytest.raises(TimeoutError):
            await h.ledger.receipt(bad.index, timeout=1.5)
        w0 = h.witnesses[0].witness
        state = await w0.store.get(h.node.signer.name)
        assert state.size == len(led.entries)
        with pytest.raises(Exception) as exc:
            await w0.add_checkpoint(state.size, await h.ledger.store.consistency_proof(
                state.size, bad.tree_size), bad.signed_note)
        assert getattr(exc.value, "reason", "") == "VALIDATION_FAILED"
        assert "while the election is PUBLISHED" in str(exc.value)
    finally:
        await h.stop()
