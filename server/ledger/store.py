"""Reads and the one write of the Merkle log, over SQLAlchemy Core (SQLite or PostgreSQL).

Two memories in front of ``log_nodes`` let ``nodes()`` (proofs, leaf hashes) skip the database:

* the recent-nodes map: the sequencer hands over (``remember``) every node of each batch it has
  committed and the frontier it resumed from, and the map keeps the last ``recent_max`` of them
  (oldest evicted first). A receipt's inclusion proof is against a co-signed checkpoint a few
  batches later than its entry, so its nodes are almost always here.
* the upper-level cache: subtrees of >= 64 leaves read from the database, shared by many proofs.

Both are safe because a complete subtree's hash never changes once committed: entries are
append-only, and the batch transaction checks the head, so index ``i`` of this log is the same
entry forever. Only committed data may enter them: ``remember`` is called after
``commit_batch`` returned, never before, so a rolled-back batch (whose positions the next batch
reuses with other entries) leaves nothing behind.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import and_, bindparam, delete, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from crypto.log import merkle

from ..db import fetch_rows, is_postgres, read_engine
from .schema import (
    log_checkpoints,
    log_entries,
    log_heads,
    log_nodes,
    log_pending,
    log_refusals,
)

MAX_PAGE = 1000


class StoreConflict(Exception):
    """The head moved under us: another sequencer wrote to this log (this one must stop)."""


@dataclass(frozen=True)
class Head:
    size: int
    root: bytes


@dataclass(frozen=True)
class StoredCheckpoint:
    size: int
    root: bytes
    signed_note: bytes
    cosigned_note: bytes | None


@dataclass(frozen=True)
class Batch:
    """One sequencer batch: entries [old_size, old_size + len(entries)), all in one transaction."""

    old_size: int
    entries: Sequence[bytes]
    leaf_hashes: Sequence[bytes]
    pending_ids: Sequence[int | None]
    nodes: Sequence[tuple[tuple[int, int], bytes]]
    new_root: bytes
    signed_note: bytes
    consumed_pending: Sequence[int]
    # a log whose policy names no witness (quorum 0): its signed checkpoint is already
    # "co-signed by the quorum", and is stored as such in the same transaction
    quorum_free: bool = False


def node_id(level: int, idx: int) -> int:
    """In-order number of the complete subtree (level, idx): unique, < 2·size."""
    return (idx << (level + 1)) + (1 << level) - 1


CACHE_MIN_LEVEL = 6  # subtrees of >= 64 leaves: few, and shared by many proofs
CACHE_MAX = 1 << 18
# node entries of recently committed batches: 2^18 (~2^17 leaves, ~60 MB) covers a co-signing
# lag of many seconds at full load, while a receipt needs only the last few batches
RECENT_MAX = 1 << 18


class LogStore:
    """All SQL of one log (``log_id`` = the checkpoint origin)."""

    def __init__(self, engine: AsyncEngine, log_id: str, *,
                 recent_max: int = RECENT_MAX) -> None:
        self.engine = engine
        self.reads = read_engine(engine)  # single-statement reads: no BEGIN/ROLLBACK
        self.log_id = log_id
        self._cache: dict[tuple[int, int], bytes] = {}
        self.recent_max = recent_max
        self._recent: OrderedDict[tuple[int, int], bytes] = OrderedDict()  # oldest first

    # --- head and checkpoints -----------------------------------------------------------------

    async def head(self, conn: AsyncConnection | None = None) -> Head:
        q = select(log_heads.c.size, log_heads.c.root).where(log_heads.c.log_id == self.log_id)
        if conn is None:
            async with self.reads.connect() as c:
                row = (await c.execute(q)).first()
        else:
            row = (await conn.execute(q)).first()
        return Head(0, merkle.EMPTY_ROOT) if row is None else Head(row.size, bytes(row.root))

    async def ensure_head(self) -> None:
        async with self.engine.begin() as conn:
            if (await conn.execute(select(log_heads.c.size).where(
                    log_heads.c.log_id == self.log_id))).first() is None:
                await conn.execute(insert(log_heads).values(log_id=self.log_id, size=0,
                                                            root=merkle.EMPTY_ROOT))

    async def checkpoint(self, size: int) -> StoredCheckpoint | None:
        q = select(log_checkpoints).where(and_(log_checkpoints.c.log_id == self.log_id,
                                               log_checkpoints.c.size == size))
        async with self.reads.connect() as conn:
            row = (await conn.execute(q)).first()
        return None if row is None else _checkpoint(row)

    async def latest_checkpoint(self, *, cosigned: bool) -> StoredCheckpoint | None:
        q = select(log_checkpoints).where(log_checkpoints.c.log_id == self.log_id)
        if cosigned:
            q = q.where(log_checkpoints.c.cosigned_note.is_not(None))
        q = q.order_by(log_checkpoints.c.size.desc()).limit(1)
        async with self.reads.connect() as conn:
            row = (await conn.execute(q)).first()
        return None if row is None else _checkpoint(row)

    async def checkpoints(self, min_size: int = 0, limit: int = MAX_PAGE) -> list[StoredCheckpoint]:
        q = (select(log_checkpoints)
             .where(and_(log_checkpoints.c.log_id == self.log_id,
                         log_checkpoints.c.size >= min_size))
             .order_by(log_checkpoints.c.size).limit(limit))
        async with self.reads.connect() as conn:
            return [_checkpoint(r) for r in (await conn.execute(q)).all()]

    async def set_cosigned(self, size: int, cosigned_note: bytes) -> bool:
        """Store the co-signed note beside checkpoint ``size``; False if there is no such
        checkpoint (nothing was stored)."""
        async with self.engine.begin() as conn:
            result = await conn.execute(update(log_checkpoints)
                                        .where(and_(log_checkpoints.c.log_id == self.log_id,
                                                    log_checkpoints.c.size == size))
                                        .values(cosigned_note=cosigned_note))
            return result.rowcount == 1

    # --- entries and nodes --------------------------------------------------------------------

    async def entries(self, start: int, count: int) -> list[tuple[bytes, bytes]]:
        """``(entry, recorded leaf hash)`` for indexes [start, start + count)."""
        count = max(0, min(count, MAX_PAGE))
        q = (select(log_entries.c.data, log_entries.c.leaf_hash)
             .where(and_(log_entries.c.log_id == self.log_id, log_entries.c.idx >= start,
                         log_entries.c.idx < start + count))
             .order_by(log_entries.c.idx))
        async with self.reads.connect() as conn:
            return [(bytes(r.data), bytes(r.leaf_hash)) for r in (await conn.execute(q)).all()]

    async def entry_data(self, start: int, count: int) -> list[bytes]:
        """The entries at indexes [start, start + count) (at most MAX_PAGE), without their leaf
        hashes, read the fast way (server.db.fetch_rows): for reading a long range, e.g. the
        close's aggregation."""
        count = max(0, min(count, MAX_PAGE))
        q = (select(log_entries.c.data)
             .where(and_(log_entries.c.log_id == self.log_id, log_entries.c.idx >= start,
                         log_entries.c.idx < start + count))
             .order_by(log_entries.c.idx))
        return [bytes(r[0]) for r in await fetch_rows(self.engine, q)]

    async def entries_at(self, indexes: Sequence[int]) -> dict[int, bytes]:
        """The entries at these indexes (one query); an index not on the log is left out."""
        if not indexes:
            return {}
        q = select(log_entries.c.idx, log_entries.c.data).where(and_(
            log_entries.c.log_id == self.log_id,
            log_entries.c.idx.in_(bindparam("indexes", expanding=True))))
        async with self.reads.connect() as conn:
            rows = (await conn.execute(q, {"indexes": sorted(set(indexes))})).all()
        return {r.idx: bytes(r.data) for r in rows}

    async def proven_entries(self, indexes: Sequence[int], size: int
                             ) -> list[tuple[int, bytes, list[bytes]]]:
        """``(index, entry, inclusion proof against the tree of size size)`` for each index
        below ``size``, in index order: the entries in one query, every proof's nodes in
        another."""
        wanted = sorted({i for i in indexes if 0 <= i < size})
        data = await self.entries_at(wanted)
        paths = {i: merkle.inclusion_path_ranges(i, size) for i in wanted}
        got = await self.nodes(set().union(*(merkle.nodes_needed(r) for r in paths.values())))
        return [(i, data[i], merkle.assemble(paths[i], lambda level, j: got[(level, j)]))
                for i in wanted]

    async def index_of_leaf(self, leaf_hash: bytes) -> int | None:
        q = (select(log_entries.c.idx)
             .where(and_(log_entries.c.log_id == self.log_id,
                         log_entries.c.leaf_hash == leaf_hash))
             .order_by(log_entries.c.idx).limit(1))
        async with self.reads.connect() as conn:
            row = (await conn.execute(q)).first()
        return None if row is None else row.idx

    async def indexes_of_leaves(self, leaf_hashes: Sequence[bytes]) -> dict[bytes, int]:
        """The first ledger index of each of these leaf hashes that is on the log: one query
        for many (the ballot box's replay checks, coalesced)."""
        if not leaf_hashes:
            return {}
        q = (select(log_entries.c.leaf_hash, func.min(log_entries.c.idx).label("idx"))
             .where(and_(log_entries.c.log_id == self.log_id,
                         log_entries.c.leaf_hash.in_(bindparam("leaves", expanding=True))))
             .group_by(log_entries.c.leaf_hash))
        async with self.reads.connect() as conn:
            rows = (await conn.execute(q, {"leaves": list(leaf_hashes)})).all()
        return {bytes(r.leaf_hash): r.idx for r in rows}

    def remember(self, nodes: Iterable[tuple[tuple[int, int], bytes]]) -> None:
        """Keep ``((level, idx), hash)`` of COMMITTED nodes in the recent-nodes map, evicting the
        oldest beyond ``recent_max``. The caller guarantees the nodes are committed (a batch
        after ``commit_batch`` returned, or a frontier read back from the store): a node of a
        rolled-back batch would be served for a position that later holds another entry."""
        recent = self._recent
        for addr, h in nodes:
            recent[addr] = h
            recent.move_to_end(addr)  # a re-remembered frontier node is recent again
        while len(recent) > self.recent_max:
            recent.popitem(last=False)

    async def nodes(self, addresses: Iterable[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        """Hashes of complete subtrees: from the recent-nodes map or the upper-level cache when
        there, the rest in one indexed query (a complete subtree's hash never changes once
        committed, so memory never disagrees with the database)."""
        out: dict[tuple[int, int], bytes] = {}
        wanted: dict[int, tuple[int, int]] = {}
        for addr in set(addresses):
            hit = self._recent.get(addr)
            if hit is None:
                hit = self._cache.get(addr)
            if hit is not None:
                out[addr] = hit
            else:
                wanted[node_id(*addr)] = addr
        if wanted:
            q = select(log_nodes.c.node_id, log_nodes.c.hash).where(
                and_(log_nodes.c.log_id == self.log_id,
                     log_nodes.c.node_id.in_(bindparam("ids", expanding=True))))
            async with self.reads.connect() as conn:
                rows = (await conn.execute(q, {"ids": list(wanted)})).all()
            for r in rows:
                addr = wanted[r.node_id]
                out[addr] = h = bytes(r.hash)
                if addr[0] >= CACHE_MIN_LEVEL and len(self._cache) < CACHE_MAX:
                    self._cache[addr] = h
        missing = [a for a in wanted.values() if a not in out]
        if missing:
            raise LookupError(f"log {self.log_id}: tree nodes missing {missing[:4]}")
        return out

    async def proof(self, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
        got = await self.nodes(merkle.nodes_needed(ranges))
        return merkle.assemble(ranges, lambda level, idx: got[(level, idx)])

    async def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        return await self.proof(merkle.inclusion_path_ranges(index, size))

    async def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        return await self.proof(merkle.consistency_proof_ranges(old_size, new_size))

    async def frontier(self, size: int) -> list[bytes]:
        """Hashes of complete_subtrees(0, size): the compact range the sequencer resumes from."""
        addrs = merkle.complete_subtrees(0, size)
        got = await self.nodes(addrs)
        return [got[a] for a in addrs]

    # --- handoff from non-sequencer processes ---------------------------------------------------

    async def add_pending(self, data: bytes) -> int:
        async with self.engine.begin() as conn:
            result = await conn.execute(insert(log_pending).values(log_id=self.log_id, data=data)
                                        .returning(log_pending.c.id))
            return result.scalar_one()

    async def add_pending_and_notify(self, data: bytes, channel: str) -> int:
        """PostgreSQL: insert and NOTIFY the sequencer in the same transaction."""
        async with self.engine.begin() as conn:
            result = await conn.execute(insert(log_pending).values(log_id=self.log_id, data=data)
                                        .returning(log_pending.c.id))
            pid = result.scalar_one()
            await conn.execute(text("SELECT pg_notify(:c, '')"), {"c": channel})
            return pid

    async def first_checkpoint_after(self, index: int) -> StoredCheckpoint:
        q = (select(log_checkpoints)
             .where(and_(log_checkpoints.c.log_id == self.log_id,
                         log_checkpoints.c.size > index))
             .order_by(log_checkpoints.c.size).limit(1))
        async with self.reads.connect() as conn:
            row = (await conn.execute(q)).first()
        if row is None:
            raise LookupError(f"no checkpoint covers index {index}")
        return _checkpoint(row)

    async def take_pending(self, limit: int) -> list[tuple[int, bytes]]:
        q = (select(log_pending.c.id, log_pending.c.data)
             .where(log_pending.c.log_id == self.log_id).order_by(log_pending.c.id).limit(limit))
        async with self.reads.connect() as conn:
            return [(r.id, bytes(r.data)) for r in (await conn.execute(q)).all()]

    async def resolved_pending(self, pending_ids: Sequence[int]) -> dict[int, int | str]:
        """Of the handed-over entries ``pending_ids``, those the sequencer resolved: each one's
        index in the log, or the reason its guard refused it (a str)."""
        if not pending_ids:
            return {}
        ids = list(pending_ids)
        q = select(log_entries.c.pending_id, log_entries.c.idx).where(
            and_(log_entries.c.log_id == self.log_id, log_entries.c.pending_id.in_(ids)))
        r = select(log_refusals.c.pending_id, log_refusals.c.reason).where(
            and_(log_refusals.c.log_id == self.log_id, log_refusals.c.pending_id.in_(ids)))
        async with self.reads.connect() as conn:
            found: dict[int, int | str] = {
                row.pending_id: row.idx for row in (await conn.execute(q)).all()}
            found.update((row.pending_id, row.reason) for row in (await conn.execute(r)).all())
            return found

    async def refuse_pending(self, refusals: Sequence[tuple[int, str]],
                             notify_channel: str | None = None) -> None:
        """The guard refused these handed-over entries: they leave ``log_pending`` and their
        reasons are recorded, in one transaction (never written to the log)."""
        async with self.engine.begin() as conn:
            await conn.execute(insert(log_refusals), [
                {"log_id": self.log_id, "pending_id": pid, "reason": reason[:1000]}
                for pid, reason in refusals])
            await conn.execute(delete(log_pending).where(
                log_pending.c.id.in_([pid for pid, _ in refusals])))
            if notify_channel is not None:
                await conn.execute(text("SELECT pg_notify(:c, '')"), {"c": notify_channel})

    # --- the sequencer's write ------------------------------------------------------------------

    async def commit_batch(self, batch: Batch, notify_channel: str | None = None,
                           within: Callable[[AsyncConnection], Awaitable[None]] | None = None
                           ) -> None:
        """Entries, tree nodes, checkpoint and head in ONE transaction: a crash at any moment
        leaves either the whole batch or none of it (``within`` writes more in the same
        transaction: the append guard's state, server/ledger/guard.py). The head row is locked
        first (PostgreSQL ``SELECT … FOR UPDATE``) and must still be at ``old_size``: a stale
        sequencer fails."""
        new_size = batch.old_size + len(batch.entries)
        async with self.engine.begin() as conn:
            q = select(log_heads.c.size).where(log_heads.c.log_id == self.log_id)
            if is_postgres(self.engine):
                q = q.with_for_update()
            current = (await conn.execute(q)).scalar_one()
            if current != batch.old_size:
                raise StoreConflict(f"log head at {current}, expected {batch.old_size}")
            await conn.execute(insert(log_entries), [
                {"log_id": self.log_id, "idx": batch.old_size + i, "data": data,
                 "leaf_hash": lh, "pending_id": pid}
                for i, (data, lh, pid) in enumerate(zip(batch.entries, batch.leaf_hashes,
                                                        batch.pending_ids, strict=True))])
            await conn.execute(insert(log_nodes), [
                {"log_id": self.log_id, "node_id": node_id(level, idx), "hash": h}
                for (level, idx), h in batch.nodes])
            await conn.execute(insert(log_checkpoints).values(
                log_id=self.log_id, size=new_size, root=batch.new_root,
                signed_note=batch.signed_note,
                cosigned_note=batch.signed_note if batch.quorum_free else None))
            await conn.execute(update(log_heads).where(log_heads.c.log_id == self.log_id)
                               .values(size=new_size, root=batch.new_root))
            if batch.consumed_pending:
                await conn.execute(delete(log_pending).where(
                    log_pending.c.id.in_(list(batch.consumed_pending))))
            if within is not None:
                await within(conn)
            if notify_channel is not None:
                await conn.execute(text("SELECT pg_notify(:c, '')"), {"c": notify_channel})


def _checkpoint(row) -> StoredCheckpoint:
    return StoredCheckpoint(row.size, bytes(row.root), bytes(row.signed_note),
                            None if row.cosigned_note is None else bytes(row.cosigned_note))
