"""The Merkle log over SQLite and PostgreSQL: batching, proofs, receipts, witnesses, read API."""

from __future__ import annotations

import asyncio
import os

import grpc
import pytest
from ownervote.v1 import ledger_pb2

from crypto.log import merkle
from crypto.log.checkpoint import SignedCheckpoint, verify_checkpoint
from server.status import details_of
from tests.ledger_support import start_log


@pytest.fixture
async def log3(dsn, tmp_path):
    h = await start_log(dsn, tmp_path, n_witnesses=3, quorum=2)
    yield h
    await h.stop()


async def test_concurrent_appends_are_contiguous_and_proven(log3):
    results = await asyncio.gather(*(log3.ledger.append(os.urandom(1024)) for _ in range(1000)))
    assert sorted(r.index for r in results) == list(range(1000))
    batches = {r.tree_size for r in results}
    assert len(batches) < 1000  # group commit: several appends per batch
    for r in results:
        cp = SignedCheckpoint.parse(r.signed_note).checkpoint
        assert cp.size == r.tree_size
        merkle.verify_inclusion(r.leaf_hash, r.index, r.tree_size, list(r.inclusion_proof),
                                cp.root_hash)
    head = await log3.ledger.store.head()
    assert head.size == 1000


async def test_receipt_is_against_a_cosigned_checkpoint(log3):
    await asyncio.gather(*(log3.ledger.append(b"warm-up %d" % i) for i in range(10)))
    receipt = await log3.ledger.append_with_receipt(b"my ballot")
    witnesses = [w.signer.verifier() for w in log3.witnesses]
    cp, cosigners = verify_checkpoint(receipt.signed_note, log3.node.signer.verifier(),
                                      witnesses, 2)
    assert len(cosigners) >= 2 and cp.size == receipt.tree_size
    merkle.verify_inclusion(merkle.leaf_hash(b"my ballot"), receipt.index, receipt.tree_size,
                            list(receipt.inclusion_proof), cp.root_hash)


async def test_read_api_serves_proofs_that_verify(log3):
    data = [os.urandom(64) for _ in range(300)]
    for chunk in range(0, 300, 100):
        await asyncio.gather(*(log3.ledger.append(d) for d in data[chunk:chunk + 100]))
    await log3.ledger.wait_cosigned(299, timeout=10)
    stub = log3.stub
    latest = await stub.GetCheckpoint(ledger_pb2.GetCheckpointRequest())
    assert latest.cosigned and latest.tree_size == 300
    root = SignedCheckpoint.parse(latest.signed_note).checkpoint.root_hash
    for i in (0, 1, 150, 299):
        p = await stub.GetInclusionProof(ledger_pb2.GetInclusionProofRequest(index=i))
        assert p.tree_size == 300
        merkle.verify_inclusion(merkle.leaf_hash(data[i]), i, 300, list(p.hashes), root)
    first = (await log3.ledger.store.checkpoints(1, 1))[0]
    c = await stub.GetConsistencyProof(ledger_pb2.GetConsistencyProofRequest(
        old_size=first.size, new_size=300))
    merkle.verify_consistency(first.size, 300, list(c.hashes), first.root, root)
    page = await stub.GetEntries(ledger_pb2.GetEntriesRequest(start=290, count=50))
    assert list(page.entries) == data[290:] and page.tree_size == 300
    assert list(page.leaf_hashes) == [merkle.leaf_hash(d) for d in data[290:]]
    info = await stub.GetLogInfo(ledger_pb2.GetLogInfoRequest())
    assert info.quorum == 2 and len(info.witnesses) == 3


@pytest.mark.parametrize("call,request_,field,reason", [
    ("GetInclusionProof", ledger_pb2.GetInclusionProofRequest(index=5, tree_size=5), "index",
     "INDEX_OUT_OF_RANGE"),
    ("GetInclusionProof", ledger_pb2.GetInclusionProofRequest(index=0, tree_size=99),
     "tree_size", "BEYOND_TREE_SIZE"),
    ("GetInclusionProof", ledger_pb2.GetInclusionProofRequest(index=2**64 - 1, tree_size=3),
     "index", "INDEX_OUT_OF_RANGE"),
    ("GetConsistencyProof", ledger_pb2.GetConsistencyProofRequest(old_size=4, new_size=3),
     "old_size", "OLD_SIZE_TOO_LARGE"),
    ("GetConsistencyProof", ledger_pb2.GetConsistencyProofRequest(old_size=1, new_size=2**64 - 1),
     "new_size", "BEYOND_TREE_SIZE"),
    ("GetEntries", ledger_pb2.GetEntriesRequest(start=0, count=1001), "count", "PAGE_TOO_LARGE"),
    ("GetEntries", ledger_pb2.GetEntriesRequest(start=2**64 - 1, count=1), "start",
     "BEYOND_TREE_SIZE"),
    ("ListCheckpoints", ledger_pb2.ListCheckpointsRequest(page_size=5000), "page_size",
     "PAGE_TOO_LARGE"),
])
async def test_malformed_reads_get_a_clear_status_and_change_nothing(log3, call, request_, field,
                                                                     reason):
    await asyncio.gather(*(log3.ledger.append(b"e%d" % i) for i in range(5)))
    before = await log3.ledger.store.head()
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await getattr(log3.stub, call)(request_)
    info = details_of(exc.value)
    assert info["code"] == grpc.StatusCode.INVALID_ARGUMENT
    assert info["field"] == field and info["reason"] == reason
    assert await log3.ledger.store.head() == before


async def test_log_restarts_from_its_store(dsn, tmp_path):
    h = await start_log(dsn, tmp_path, n_witnesses=0, quorum=0)
    origin_signer = h.node.signer
    first = await asyncio.gather(*(h.ledger.append(b"a%d" % i) for i in range(37)))
    await h.stop()
    from crypto.log.checkpoint import Checkpoint
    from server.db import make_engine
    from server.ledger.log import Ledger

    engine = make_engine(dsn)
    ledger = Ledger(engine, origin_signer.name, lambda n, r: SignedCheckpoint.sign(
        Checkpoint(origin_signer.name, n, r), origin_signer).encode())
    await ledger.start()
    more = await asyncio.gather(*(ledger.append(b"b%d" % i) for i in range(20)))
    assert sorted(r.index for r in more) == list(range(37, 57))
    assert sorted(r.index for r in first) == list(range(37))
    all_leaves = [merkle.leaf_hash(b"a%d" % i) for i in range(37)]
    all_leaves += [merkle.leaf_hash(b"b%d" % i) for i in range(20)]
    assert (await ledger.store.head()).root == merkle.root_from_leaves(all_leaves)
    await ledger.close()
    await engine.dispose()
