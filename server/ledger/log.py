"""The Merkle log: one sequencer per log, batched appends, crash-safe commits.

Appends are group-committed: while one batch is being written, new appends queue up and form
the next batch (up to ``max_batch``). One transaction per batch writes the entries, the new tree
nodes, the log-signed checkpoint and the head; only after the commit is each waiting caller
answered with its index, the checkpoint and its inclusion proof.

Several server processes may share one PostgreSQL database. Exactly one of them is the sequencer
of a log: the holder of a PostgreSQL session advisory lock derived from the log's origin. The
others hand their entries over through ``log_pending`` (committed, so durable, before they wait)
and are woken by NOTIFY when a batch commits. When the sequencer dies its session ends, the lock
is released, and another process takes over, resuming from the committed head. The batch
transaction locks the head row and checks it, so a sequencer that lost its lock unnoticed
cannot write (fencing). With SQLite the log is single-process.

The sequencer is also the one point every process's appends pass through in the log's order:
its :class:`~server.ledger.guard.AppendGuard` (a record family's, e.g. the election's: no ballot
after its close) judges each batch before it is written, and a refused entry's appender gets
:class:`~server.ledger.guard.EntryRefused` instead of an index.

On the sequencer a receipt for a recent entry needs no database read: the co-signed checkpoint
comes from the collector's memory (it is the row the collector just stored), and the inclusion
proof and leaf hash from the store's recent-nodes map, which the sequencer fills with the nodes of
each batch once ``commit_batch`` has returned (and with the frontier it resumed from). Committed
tree nodes never change, so memory and database always agree; other processes read the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from crypto.log import merkle
from crypto.log.receipt import Receipt

from ..db import is_postgres
from ..metrics import BATCH_ENTRIES, COMMIT_SECONDS
from .cosign import CosignCollector
from .guard import AppendGuard, EntryRefused
from .store import RECENT_MAX, Batch, LogStore, StoreConflict, StoredCheckpoint

log = logging.getLogger("ownervote.ledger")

SignCheckpoint = Callable[[int, bytes], bytes]  # (size, root) -> log-signed note bytes
CHANNEL_PENDING = "ownervote_log_pending"
CHANNEL_BATCH = "ownervote_log_batch"


class LedgerUnavailable(Exception):
    """The log cannot take appends now (stopping, or its store failed); nothing was appended."""


@dataclass(frozen=True)
class AppendResult:
    index: int
    leaf_hash: bytes
    tree_size: int
    signed_note: bytes  # the checkpoint of the batch that included the entry (log-signed)
    inclusion_proof: tuple[bytes, ...]  # PATH(index, D[tree_size])


def advisory_key(origin: str) -> int:
    """A signed 64-bit advisory-lock key for the log."""
    return int.from_bytes(hashlib.sha256(b"ownervote-log:" + origin.encode()).digest()[:8],
                          "big", signed=True)


class Ledger:
    def __init__(self, engine: AsyncEngine, origin: str, sign_checkpoint: SignCheckpoint, *,
                 max_batch: int = 1000,
                 collector: CosignCollector | None = None,
                 recent_nodes: int = RECENT_MAX, guard: AppendGuard | None = None) -> None:
        self.engine = engine
        self.guard = guard  # judges each batch at the sequencer (server/ledger/guard.py)
        self.origin = origin
        self.store = LogStore(engine, origin, recent_max=recent_nodes)
        self._sign = sign_checkpoint
        self.max_batch = max_batch
        self.collector = collector
        self._queue: asyncio.Queue[tuple[bytes, asyncio.Future]] = asyncio.Queue()
        self._waiting: dict[int, asyncio.Future] = {}  # pending id -> future (handoff path)
        self._pending_event = asyncio.Event()
        self._batch_event = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self._stopping = False
        self.is_sequencer = False
        self._sequencer_ready = asyncio.Event()
        self._lock_conn: AsyncConnection | None = None
        self._size = 0

    # --- lifecycle ------------------------------------------------------------------------------

    async def start(self, *, wait_for_role: bool = True) -> None:
        await self.store.ensure_head()
        if is_postgres(self.engine):
            self._tasks.append(asyncio.create_task(self._elect(), name="ledger-elect"))
            self._tasks.append(asyncio.create_task(self._poll_handoff(), name="ledger-handoff"))
            await self._listen(CHANNEL_BATCH, self._batch_event)
            if wait_for_role:
                # give the election one round so a lone process starts as the sequencer
                for _ in range(50):
                    if self.is_sequencer:
                        break
                    await asyncio.sleep(0.01)
        else:
            self.is_sequencer = True
            self._tasks.append(asyncio.create_task(self._supervise(), name="ledger-sequencer"))
            await self._sequencer_ready.wait()

    async def close(self) -> None:
        self._stopping = True
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._tasks.clear()
        while not self._queue.empty():
            _, fut = self._queue.get_nowait()
            if not fut.done():
                fut.set_exception(LedgerUnavailable("ledger stopped"))
        for fut in self._waiting.values():
            if not fut.done():
                fut.set_exception(LedgerUnavailable("ledger stopped"))
        if self._lock_conn is not None:  # its session must end to release the advisory lock
            with contextlib.suppress(Exception):
                await self._lock_conn.invalidate()
        for conn in (self._lock_conn, getattr(self, "_listen_conn", None)):
            if conn is not None:
                with contextlib.suppress(Exception):
                    await conn.close()

    # --- appending ------------------------------------------------------------------------------

    async def append(self, data: bytes) -> AppendResult:
        """Append one entry; returns after the batch containing it is committed, or raises
        EntryRefused if the sequencer's guard refused it (then it is not in the log)."""
        if self._stopping:
            raise LedgerUnavailable("ledger stopped")
        fut = asyncio.get_running_loop().create_future()
        if self.is_sequencer:
            self._queue.put_nowait((bytes(data), fut))
            return await fut
        pid = await self.store.add_pending_and_notify(bytes(data), CHANNEL_PENDING) \
            if is_postgres(self.engine) else await self.store.add_pending(bytes(data))
        self._waiting[pid] = fut
        self._batch_event.set()
        return await fut

    # --- the sequencer --------------------------------------------------------------------------

    async def _supervise(self) -> None:
        """SQLite: one process sequences; if the sequencer fails, fail its callers and restart
        it from the committed head."""
        while not self._stopping:
            try:
                await self._sequence()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("sequencer of %s failed; restarting", self.origin)
                while not self._queue.empty():
                    _, fut = self._queue.get_nowait()
                    if not fut.done():
                        fut.set_exception(LedgerUnavailable("sequencer restarting; retry"))
                await asyncio.sleep(0.5)

    async def _resume(self) -> merkle.CompactRange:
        """The compact range at the committed head, read from the store. Its nodes are committed,
        and every proof for a later entry needs some of them: they go to the recent-nodes map."""
        head = await self.store.head()
        tree = merkle.CompactRange(head.size, await self.store.frontier(head.size))
        if tree.root() != head.root:
            raise RuntimeError(f"log {self.origin}: stored nodes disagree with the head")
        self.store.remember(zip(tree.addresses(), tree.nodes, strict=True))
        self._size = head.size
        return tree

    async def _sequence(self) -> None:
        tree = await self._resume()
        if self.guard is not None:
            await self.guard.resume()
        if self.collector is not None:
            await self.collector.start()
        self._sequencer_ready.set()
        log.info("sequencer of %s at size %d", self.origin, tree.size)
        try:
            await self._sequence_loop(tree)
        finally:
            if self.collector is not None:
                await self.collector.close()

    async def _sequence_loop(self, tree: merkle.CompactRange) -> None:
        while not self._stopping:
            items = await self._collect()
            pending = (await self.store.take_pending(self.max_batch - len(items))
                       if is_postgres(self.engine) else [])
            if not items and not pending:
                continue
            try:
                tree = await self._commit(tree, items, pending)
            except StoreConflict:
                for _, fut in items:
                    if not fut.done():
                        fut.set_exception(LedgerUnavailable("another sequencer took over"))
                raise
            except Exception as exc:  # the store failed: nothing of this batch was acknowledged
                log.exception("batch commit failed")
                for _, fut in items:
                    if not fut.done():
                        fut.set_exception(LedgerUnavailable(f"store error: {exc}"))
                tree = await self._resume()

    async def _collect(self) -> list[tuple[bytes, asyncio.Future]]:
        items: list[tuple[bytes, asyncio.Future]] = []
        try:
            items.append(await asyncio.wait_for(self._queue.get(), timeout=self._idle_wait()))
        except TimeoutError:
            return items
        while len(items) < self.max_batch and not self._queue.empty():
            items.append(self._queue.get_nowait())
        return items

    def _idle_wait(self) -> float:
        if not is_postgres(self.engine):
            return 0.5
        if self._pending_event.is_set():
            self._pending_event.clear()
            return 0.0005
        return 0.1

    async def _commit(self, tree: merkle.CompactRange,
                      items: list[tuple[bytes, asyncio.Future]],
                      pending: list[tuple[int, bytes]]) -> merkle.CompactRange:
        if self.guard is not None:
            items, pending = await self._admit(items, pending)
            if not items and not pending:
                return tree
        old_size = tree.size
        known = dict(zip(merkle.complete_subtrees(0, old_size), tree.nodes, strict=True))
        entries = [d for d, _ in items] + [d for _, d in pending]
        pending_ids: list[int | None] = [None] * len(items) + [pid for pid, _ in pending]
        leaf_hashes = []
        new_nodes: list[tuple[tuple[int, int], bytes]] = []
        for data in entries:
            lh = merkle.leaf_hash(data)
            leaf_hashes.append(lh)
            new_nodes.extend(tree.append(lh))
        new_size = tree.size
        root = tree.root()
        note = self._sign(new_size, root)
        started = time.perf_counter()
        await self.store.commit_batch(Batch(old_size, entries, leaf_hashes, pending_ids,
                                            new_nodes, root, note, [pid for pid, _ in pending],
                                            quorum_free=self.collector is None),
                                      notify_channel=CHANNEL_BATCH
                                      if is_postgres(self.engine) else None,
                                      within=None if self.guard is None else
                                      lambda conn: self.guard.record(conn, entries))
        # committed (never before: a failed batch's positions are reused by the next batch)
        COMMIT_SECONDS.observe(time.perf_counter() - started)
        BATCH_ENTRIES.observe(len(entries))
        self.store.remember(new_nodes)
        self._size = new_size
        if self.guard is not None:
            self.guard.committed(entries)
        known.update(new_nodes)
        for i, (_, fut) in enumerate(items):
            if fut.done():
                continue
            idx = old_size + i
            proof = merkle.assemble(merkle.inclusion_path_ranges(idx, new_size),
                                    lambda level, j: known[(level, j)])
            fut.set_result(AppendResult(idx, leaf_hashes[i], new_size, note, tuple(proof)))
        if self.collector is not None:
            self.collector.notify(new_size)
        return tree

    async def _admit(self, items: list[tuple[bytes, asyncio.Future]],
                     pending: list[tuple[int, bytes]]
                     ) -> tuple[list[tuple[bytes, asyncio.Future]], list[tuple[int, bytes]]]:
        """The batch without what the guard refuses. A refused local append's caller gets
        EntryRefused now; a refused handed-over entry's refusal is committed (and the waiting
        process notified) before the batch is written."""
        verdicts = await self.guard.admit([d for d, _ in items] + [d for _, d in pending])
        kept = []
        for item, reason in zip(items, verdicts, strict=False):
            if reason is None:
                kept.append(item)
            elif not item[1].done():
                item[1].set_exception(EntryRefused(reason))
        kept_pending, refused = [], []
        for (pid, data), reason in zip(pending, verdicts[len(items):], strict=True):
            if reason is None:
                kept_pending.append((pid, data))
            else:
                refused.append((pid, reason))
        if refused:
            log.info("sequencer refused %d handed-over entries: %s", len(refused), refused[0][1])
            await self.store.refuse_pending(
                refused, notify_channel=CHANNEL_BATCH if is_postgres(self.engine) else None)
        return kept, kept_pending

    @property
    def size(self) -> int:
        return self._size

    # --- receipts ---------------------------------------------------------------------------------

    async def append_with_receipt(self, data: bytes, timeout: float = 10.0) -> Receipt:
        """Append, then wait until a checkpoint co-signed by the witness quorum covers the entry."""
        result = await self.append(data)
        return await self.receipt(result.index, result, timeout=timeout)

    async def receipt(self, index: int, appended: AppendResult | None = None, *,
                      timeout: float = 10.0) -> Receipt:
        """The entry's inclusion proof against the latest co-signed checkpoint covering it. For a
        recent entry on the sequencer every piece comes from memory (see the module docstring)."""
        cp = await self.wait_cosigned(index, timeout)
        if appended is not None and appended.tree_size == cp.size:
            proof = list(appended.inclusion_proof)
            leaf = appended.leaf_hash
        else:  # proof nodes and leaf hash in one lookup (one query at most)
            ranges = merkle.inclusion_path_ranges(index, cp.size)
            got = await self.store.nodes(merkle.nodes_needed(ranges) | {(0, index)})
            proof = merkle.assemble(ranges, got)
            leaf = got[(0, index)]
        return Receipt(index, leaf, tuple(proof), cp.cosigned_note)

    async def wait_cosigned(self, index: int, timeout: float) -> StoredCheckpoint:
        """The latest co-signed checkpoint once one covers ``index`` (TimeoutError otherwise).

        On the sequencer with a collector it is the collector's in-memory copy of the row it
        stored (no read); the store is read only if that does not cover ``index`` yet."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if self.is_sequencer and self.collector is not None:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise TimeoutError(f"no co-signed checkpoint covers entry {index} yet")
                with contextlib.suppress(TimeoutError):
                    await self.collector.wait_covering(index, min(remaining, 0.5))
                cp = self.collector.cosigned
                if cp is not None and cp.size > index:
                    return cp
            cp = await self.store.latest_checkpoint(cosigned=True)
            if cp is not None and cp.size > index:
                return cp
            if loop.time() >= deadline:
                raise TimeoutError(f"no co-signed checkpoint covers entry {index} yet")
            if not (self.is_sequencer and self.collector is not None):
                await asyncio.sleep(0.02)

    # --- PostgreSQL: election, handoff, notifications -----------------------------------------

    async def _elect(self) -> None:
        key = advisory_key(self.origin)
        while not self._stopping:
            conn = await self.engine.connect()
            try:
                got = (await conn.execute(text("SELECT pg_try_advisory_lock(:k)"),
                                          {"k": key})).scalar()
                await conn.commit()
            except Exception:
                await conn.close()
                await asyncio.sleep(0.5)
                continue
            if not got:
                await conn.close()
                await asyncio.sleep(0.5)
                continue
            self._lock_conn = conn
            await self._listen(CHANNEL_PENDING, self._pending_event)
            self.is_sequencer = True
            seq = asyncio.create_task(self._sequence(), name="ledger-sequencer")
            watch = asyncio.create_task(self._watch_lock(conn), name="ledger-lock-watch")
            try:
                done, _ = await asyncio.wait({seq, watch}, return_when=asyncio.FIRST_COMPLETED)
                for t in done:
                    if not t.cancelled() and t.exception() is not None:
                        log.error("sequencer of %s stopped: %r", self.origin, t.exception())
            finally:
                self.is_sequencer = False
                self._sequencer_ready.clear()
                seq.cancel()
                watch.cancel()
                try:
                    # wait, not a suppressed await: this task's own cancellation (the ledger
                    # closing, or the event loop's end) must not be swallowed here, or the
                    # loop below would take the role again and never end
                    await asyncio.wait({seq, watch})
                finally:
                    with contextlib.suppress(Exception):
                        # invalidate, not just close: a closed connection goes back to the pool
                        # with the session, and so the advisory lock, still held
                        await conn.invalidate()
                    with contextlib.suppress(Exception):
                        await conn.close()
                    self._lock_conn = None
                # queued local appends were not written: their callers get an error, not silence
                while not self._queue.empty():
                    _, fut = self._queue.get_nowait()
                    if not fut.done():
                        fut.set_exception(LedgerUnavailable("sequencer changed; retry"))
            await asyncio.sleep(0.2)

    async def _watch_lock(self, conn: AsyncConnection) -> None:
        while True:
            await asyncio.sleep(1.0)
            await conn.execute(text("SELECT 1"))
            await conn.commit()

    async def _listen(self, channel: str, ev: asyncio.Event) -> None:
        conn = getattr(self, "_listen_conn", None)
        if conn is None:
            conn = self._listen_conn = await self.engine.connect()
        raw = (await conn.get_raw_connection()).driver_connection
        await raw.add_listener(channel, lambda *_: ev.set())

    async def _poll_handoff(self) -> None:
        while not self._stopping:
            try:
                await asyncio.wait_for(self._batch_event.wait(), timeout=0.05)
            except TimeoutError:
                pass
            self._batch_event.clear()
            if not self._waiting:
                continue
            try:
                resolved = await self.store.resolved_pending(list(self._waiting))
                for pid, idx in resolved.items():
                    fut = self._waiting.pop(pid)
                    if fut.done():
                        continue
                    if isinstance(idx, str):  # the sequencer's guard refused it
                        fut.set_exception(EntryRefused(idx))
                    else:
                        fut.set_result(await self._result_for(idx))
            except Exception:  # keep waiting; the entry is durable in log_pending
                log.exception("handoff poll failed")

    async def _result_for(self, idx: int) -> AppendResult:
        cp = await self.store.first_checkpoint_after(idx)
        proof = await self.store.inclusion_proof(idx, cp.size)
        leaf = (await self.store.nodes([(0, idx)]))[(0, idx)]
        return AppendResult(idx, leaf, cp.size, cp.signed_note, tuple(proof))
