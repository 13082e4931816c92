"""What the sequencer serves from memory instead of the database (SQLite and PostgreSQL): the
latest co-signed checkpoint (kept by the collector) and the tree nodes of recently committed
batches (kept by the LogStore). Memory must answer exactly what the database would, must stay
bounded, and must never hold a node of a batch that did not commit."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Iterator
from contextvars import ContextVar

import pytest
from sqlalchemy import event

from crypto.log import merkle
from crypto.log.checkpoint import Checkpoint, SignedCheckpoint
from crypto.log.note import Ed25519Signer
from crypto.log.receipt import verify_receipt
from server.db import make_engine
from server.ledger.cosign import CosignCollector, WitnessPolicy
from server.ledger.log import Ledger, LedgerUnavailable
from server.ledger.store import LogStore
from server.schema import create_schema
from tests.ledger_support import start_log

_sink: ContextVar[list[str] | None] = ContextVar("ledger_memory_sink", default=None)


@contextlib.contextmanager
def statements(engine) -> Iterator[list[str]]:
    """The SQL statements sent through ``engine`` by the current task (and tasks it starts)
    while in the block. The ledger's own background tasks (sequencer, collector) were started
    before, outside the block, so their statements are not counted."""
    seen: list[str] = []

    def before(conn, cursor, statement, parameters, context, executemany) -> None:
        sink = _sink.get()
        if sink is not None:
            sink.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", before)
    token = _sink.set(seen)
    try:
        yield seen
    finally:
        _sink.reset(token)
        event.remove(engine.sync_engine, "before_cursor_execute", before)


def subtree_hash(leaves: list[bytes], level: int, idx: int) -> bytes:
    return merkle.root_from_leaves(leaves[idx << level:(idx + 1) << level])


@pytest.fixture
async def log3(dsn, tmp_path):
    h = await start_log(dsn, tmp_path, n_witnesses=3, quorum=2)
    yield h
    await h.stop()


async def _plain_ledger(dsn: str, **kwargs) -> tuple[Ledger, object, Ed25519Signer]:
    """A log without witnesses (its checkpoints need no cosignature), started as sequencer."""
    engine = make_engine(dsn)
    await create_schema(engine)
    signer = Ed25519Signer.generate(f"test.ownervote.example/log-{secrets.token_hex(4)}")

    def sign(size: int, root: bytes) -> bytes:
        return SignedCheckpoint.sign(Checkpoint(signer.name, size, root), signer).encode()

    ledger = Ledger(engine, signer.name, sign, **kwargs)
    await ledger.start()
    for _ in range(100):  # PostgreSQL: appends must reach this process's own sequencer
        if ledger.is_sequencer:
            break
        await asyncio.sleep(0.05)
    assert ledger.is_sequencer
    return ledger, engine, signer


@pytest.fixture
async def plain(dsn):
    ledger, engine, signer = await _plain_ledger(dsn)
    yield ledger, engine, signer
    await ledger.close()
    await engine.dispose()


@pytest.fixture
async def small(dsn):
    ledger, engine, signer = await _plain_ledger(dsn, recent_nodes=16)
    yield ledger, engine, signer
    await ledger.close()
    await engine.dispose()


# --- the co-signed checkpoint and receipts --------------------------------------------------

async def test_receipts_from_memory_verify_and_equal_receipts_read_from_the_database(log3):
    ledger = log3.ledger
    log_v = log3.node.signer.verifier()
    witnesses = [w.signer.verifier() for w in log3.witnesses]
    data = [b"ballot %d" % i for i in range(120)]
    first = await asyncio.gather(*(ledger.append(d) for d in data[:60]))
    second = await asyncio.gather(*(ledger.append(d) for d in data[60:]))
    results = first + second
    cp = await ledger.wait_cosigned(len(data) - 1, timeout=10)
    assert cp.size == len(data)
    # most entries' batches are older than the co-signed checkpoint: their proofs are rebuilt
    assert sum(r.tree_size != cp.size for r in results) >= 60

    with statements(log3.engine) as seen:
        mine = [await ledger.receipt(r.index, r) for r in results]
        mine += [await ledger.receipt(i) for i in (0, 59, 119)]  # the leaf hash too
    assert seen == []  # neither the checkpoint nor a node was read

    for receipt in mine:
        assert receipt.signed_note == cp.cosigned_note
        checkpoint = verify_receipt(receipt, log_v, witnesses, 2, entry=data[receipt.index])
        assert checkpoint.size == cp.size and checkpoint.root_hash == cp.root
        merkle.verify_inclusion(merkle.leaf_hash(data[receipt.index]), receipt.index, cp.size,
                                list(receipt.inclusion_proof), cp.root)

    # a process that knows nothing reads everything from the database and gets the same bytes
    fresh = Ledger(log3.engine, ledger.origin, lambda size, root: b"")
    with statements(log3.engine) as seen:
        theirs = [await fresh.receipt(r.index) for r in results]
        theirs += [await fresh.receipt(i) for i in (0, 59, 119)]
    assert len(seen) >= len(theirs)
    assert theirs == mine


async def test_the_collector_keeps_the_cosigned_checkpoint_the_store_holds(log3):
    ledger = log3.ledger
    collector = ledger.collector
    for wave in range(2):
        await asyncio.gather(*(ledger.append(b"wave %d entry %d" % (wave, i))
                               for i in range(25)))
        await ledger.wait_cosigned(25 * (wave + 1) - 1, timeout=10)
        stored = await ledger.store.latest_checkpoint(cosigned=True)
        assert stored is not None and stored.size == 25 * (wave + 1)
        assert collector.cosigned == stored  # size, root, signed note, co-signed note
        assert collector.cosigned_size == stored.size
        assert all(type(v) is bytes for v in (collector.cosigned.root,
                                               collector.cosigned.signed_note,
                                               collector.cosigned.cosigned_note))
    # a collector starting afresh (a new sequencer) loads the same row
    again = CosignCollector(LogStore(log3.engine, ledger.origin), log3.node.signer.verifier(),
                            WitnessPolicy((), 0), [])
    await again.start()
    try:
        assert again.cosigned == await ledger.store.latest_checkpoint(cosigned=True)
    finally:
        await again.close()


# --- recent tree nodes ----------------------------------------------------------------------

async def test_recent_nodes_are_served_without_a_query_and_equal_the_database(plain):
    ledger, engine, _ = plain
    by_index: dict[int, bytes] = {}
    for k in range(5):
        batch = [b"entry %d.%d" % (k, i) for i in range(13)]
        for d, r in zip(batch, await asyncio.gather(*(ledger.append(d) for d in batch)),
                        strict=True):
            by_index[r.index] = d
    size = len(by_index)
    leaves = [merkle.leaf_hash(by_index[i]) for i in range(size)]
    addrs = [(level, idx) for level in range(size.bit_length()) for idx in range(size >> level)]

    with statements(engine) as seen:
        from_memory = await ledger.store.nodes(addrs)
    assert seen == []

    with statements(engine) as seen:
        from_db = await LogStore(engine, ledger.origin).nodes(addrs)
    assert len(seen) == 1
    assert from_memory == from_db == {a: subtree_hash(leaves, *a) for a in addrs}


async def test_a_new_sequencer_remembers_the_frontier_it_resumes_from(dsn):
    ledger, engine, signer = await _plain_ledger(dsn)
    data = [b"before restart %d" % i for i in range(13)]
    results = await asyncio.gather(*(ledger.append(d) for d in data))
    leaves = [b""] * len(data)
    for d, r in zip(data, results, strict=True):
        leaves[r.index] = merkle.leaf_hash(d)
    await ledger.close()
    await engine.dispose()  # PostgreSQL: ends the session holding the sequencer's lock
    engine = make_engine(dsn)
    again = Ledger(engine, ledger.origin, ledger._sign)
    await again.start()
    try:
        # answered once the new sequencer resumed (PostgreSQL: after it won the election)
        result = await again.append(b"after restart")
        assert result.index == 13
        frontier = merkle.complete_subtrees(0, 13)  # every later proof needs some of these
        assert not set(frontier) & {(0, 13), (1, 6)}  # not nodes of the new batch
        with statements(engine) as seen:
            got = await again.store.nodes(frontier)
        assert seen == []
        assert merkle.fold([got[a] for a in frontier]) == merkle.root_from_leaves(leaves)
        receipt = await again.receipt(result.index, result)
        verify_receipt(receipt, signer.verifier(), [], 0, entry=b"after restart")
    finally:
        await again.close()
        await engine.dispose()


async def test_recent_nodes_are_bounded_and_evicted_ones_come_from_the_database(small):
    ledger, engine, signer = small
    data = [b"entry %d" % i for i in range(40)]
    for d in data:  # one batch each, so the order in which nodes were committed is known
        await ledger.append(d)
    tree = merkle.CompactRange()
    committed = [node for d in data for node in tree.append(merkle.leaf_hash(d))]
    recent, evicted = committed[-16:], committed[:-16]
    assert len(ledger.store._recent) == 16

    with statements(engine) as seen:
        got = await ledger.store.nodes(a for a, _ in recent)
    assert seen == [] and got == dict(recent)

    with statements(engine) as seen:  # the newest node evicted
        got = await ledger.store.nodes([evicted[-1][0]])
    assert len(seen) == 1 and got == dict(evicted[-1:])

    with statements(engine) as seen:
        got = await ledger.store.nodes(a for a, _ in committed)
    assert len(seen) == 1 and got == dict(committed)

    receipt = await ledger.receipt(0)  # its nodes are long evicted
    verify_receipt(receipt, signer.verifier(), [], 0, entry=data[0])


@contextlib.contextmanager
def commit_batch_raises(monkeypatch, ledger, engine) -> Iterator[None]:
    async def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    with monkeypatch.context() as m:
        m.setattr(ledger.store, "commit_batch", broken)
        yield


@contextlib.contextmanager
def transaction_fails(monkeypatch, ledger, engine) -> Iterator[None]:
    """The batch's entries and nodes are written, then its checkpoint insert fails: rollback."""

    def before(conn, cursor, statement, parameters, context, executemany) -> None:
        if "INSERT INTO log_checkpoints" in statement:
            raise RuntimeError("disk full")

    event.listen(engine.sync_engine, "before_cursor_execute", before)
    try:
        yield
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", before)


@pytest.mark.parametrize("failure", [commit_batch_raises, transaction_fails])
async def test_a_failed_batch_leaves_nothing_in_memory(plain, monkeypatch, failure):
    ledger, engine, signer = plain
    kept = [b"kept %d" % i for i in range(5)]
    for d in kept:
        await ledger.append(d)
    tree = merkle.CompactRange()
    for d in kept:
        tree.append(merkle.leaf_hash(d))
    lost = merkle.CompactRange(tree.size, tree.nodes).append(merkle.leaf_hash(b"lost"))
    assert [a for a, _ in lost] == [(0, 5), (1, 2)]

    with failure(monkeypatch, ledger, engine), pytest.raises(LedgerUnavailable):
        await ledger.append(b"lost")

    assert not any(a in ledger.store._recent for a, _ in lost)
    for addr, _ in lost:
        with pytest.raises(LookupError):
            await ledger.store.nodes([addr])

    # the next batch takes the position over; its nodes, not the lost ones, are served
    result = await ledger.append(b"next")
    assert result.index == 5
    expected = tree.append(merkle.leaf_hash(b"next"))
    with statements(engine) as seen:
        got = await ledger.store.nodes(a for a, _ in expected)
    assert seen == [] and got == dict(expected)
    receipt = await ledger.receipt(result.index, result)
    verify_receipt(receipt, signer.verifier(), [], 0, entry=b"next")


async def test_a_closed_sequencer_releases_its_lock_on_a_shared_engine(pg_dsn):
    """Closing a sequencer ends its lock session (the connection is invalidated, not returned to
    the pool with the advisory lock held): another Ledger on the same engine takes over."""
    import asyncio
    import secrets

    from crypto.log.checkpoint import Checkpoint, SignedCheckpoint
    from crypto.log.note import Ed25519Signer
    from server.db import make_engine
    from server.ledger.log import Ledger

    engine = make_engine(pg_dsn)
    try:
        await create_schema(engine)
        origin = f"lock.example/{secrets.token_hex(4)}"
        signer = Ed25519Signer.generate(origin)

        def sign(size: int, root: bytes) -> bytes:
            return SignedCheckpoint.sign(Checkpoint(origin, size, root), signer).encode()

        first = Ledger(engine, origin, sign)
        await first.start()
        assert first.is_sequencer
        await first.append(b"one")
        second = Ledger(engine, origin, sign)
        await second.start(wait_for_role=False)
        await asyncio.sleep(0.7)
        assert not second.is_sequencer
        await first.close()
        for _ in range(60):
            if second.is_sequencer:
                break
            await asyncio.sleep(0.1)
        assert second.is_sequencer
        assert (await second.append(b"two")).index == 1
        await second.close()
    finally:
        await engine.dispose()
