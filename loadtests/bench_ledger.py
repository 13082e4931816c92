"""Ledger benchmarks (part of ``make bench``): appends/s with 1 KB entries, and proof latency
at 1,000,000 entries, on SQLite and (when configured) PostgreSQL.

PostgreSQL is used when ``OWNERVOTE_BENCH_PG_DSN`` is set (``make bench`` sets it to the local
server when one answers). Prints figures; asserts nothing.
"""

from __future__ import annotations

import asyncio
import os
import random
import secrets
import statistics
import tempfile
import time

from crypto.log import merkle
from crypto.log.checkpoint import Checkpoint, SignedCheckpoint
from crypto.log.note import Ed25519Signer
from server.db import create_database, drop_database, is_postgres, make_engine
from server.ledger.log import Ledger
from server.ledger.schema import log_heads, log_nodes
from server.ledger.store import LogStore, node_id
from server.schema import create_schema


async def bench_appends(dsn: str, label: str, n: int = 20_000, concurrency: int = 2_000) -> None:
    engine = make_engine(dsn)
    await create_schema(engine)
    origin = f"bench.example/{secrets.token_hex(4)}"
    signer = Ed25519Signer.generate(origin)
    ledger = Ledger(engine, origin, lambda size, root: SignedCheckpoint.sign(
        Checkpoint(origin, size, root), signer).encode())
    await ledger.start()
    payloads = [os.urandom(1024) for _ in range(256)]
    latencies: list[float] = []

    async def one(i: int) -> None:
        t = time.perf_counter()
        await ledger.append(payloads[i % 256] + i.to_bytes(8, "big"))
        latencies.append(time.perf_counter() - t)

    sem = asyncio.Semaphore(concurrency)

    async def bounded(i: int) -> None:
        async with sem:
            await one(i)

    t0 = time.perf_counter()
    await asyncio.gather(*(bounded(i) for i in range(n)))
    elapsed = time.perf_counter() - t0
    batches = len(await ledger.store.checkpoints(0, 1_000_000))
    latencies.sort()
    print(f"  {label:<10} {n / elapsed:8,.0f} appends/s  ({n:,} × 1 KB, {concurrency} concurrent, "
          f"{batches} batches; latency p50 {latencies[len(latencies) // 2] * 1000:.1f} ms, "
          f"p99 {latencies[int(len(latencies) * .99)] * 1000:.1f} ms)")
    await ledger.close()
    await engine.dispose()


async def build_tree(dsn: str, size: int) -> tuple[LogStore, list[bytes], object]:
    """A log of ``size`` synthetic leaves: its node table and head, written in bulk."""
    engine = make_engine(dsn)
    await create_schema(engine)
    origin = f"bench.example/proofs-{secrets.token_hex(4)}"
    tree = merkle.CompactRange()
    rows = []
    leaves = []
    for i in range(size):
        lh = merkle.leaf_hash(i.to_bytes(8, "big"))
        leaves.append(lh)
        rows.extend(((level, idx), h) for (level, idx), h in tree.append(lh))
    if is_postgres(engine):
        async with engine.connect() as conn:
            raw = (await conn.get_raw_connection()).driver_connection
            await raw.copy_records_to_table(
                "log_nodes", records=[(origin, node_id(lv, ix), h) for (lv, ix), h in rows],
                columns=["log_id", "node_id", "hash"])
            await conn.commit()
    else:
        async with engine.begin() as conn:
            for k in range(0, len(rows), 50_000):
                await conn.execute(log_nodes.insert(), [
                    {"log_id": origin, "node_id": node_id(lv, ix), "hash": h}
                    for (lv, ix), h in rows[k:k + 50_000]])
    async with engine.begin() as conn:
        await conn.execute(log_heads.insert().values(log_id=origin, size=size, root=tree.root()))
    return LogStore(engine, origin), leaves, tree.root()


async def bench_proofs(dsn: str, label: str, size: int = 1_000_000) -> None:
    t = time.perf_counter()
    store, leaves, root = await build_tree(dsn, size)
    build = time.perf_counter() - t
    rng = random.Random(1)
    inc, con = [], []
    for _ in range(300):
        i = rng.randrange(size)
        t = time.perf_counter()
        proof = await store.inclusion_proof(i, size)
        inc.append((time.perf_counter() - t) * 1000)
        merkle.verify_inclusion(leaves[i], i, size, proof, root)
        old = rng.randrange(1, size)
        t = time.perf_counter()
        cproof = await store.consistency_proof(old, size)
        con.append((time.perf_counter() - t) * 1000)
        assert len(cproof) <= 2 * 64
    print(f"  {label:<10} inclusion proof at {size:,}: median {statistics.median(inc):.2f} ms, "
          f"p99 {sorted(inc)[296]:.2f} ms; consistency proof: median "
          f"{statistics.median(con):.2f} ms, p99 {sorted(con)[296]:.2f} ms "
          f"(tree of {2 * size - size.bit_count():,} nodes built in {build:.0f} s)")
    await store.engine.dispose()


async def main() -> None:
    pg = os.environ.get("OWNERVOTE_BENCH_PG_DSN", "")
    pg_name = f"ownervote_bench_{secrets.token_hex(4)}"
    with tempfile.TemporaryDirectory() as tmp:
        stores = [(f"sqlite+aiosqlite:///{tmp}/bench.db", "SQLite")]
        if pg:
            stores.append((await create_database(pg, pg_name), "PostgreSQL"))
        print("ledger appends (one process, group commit, log-signed checkpoint per batch)")
        for dsn, label in stores:
            await bench_appends(dsn, label)
        print("ledger proofs (store reads + assembly, O(log n) node reads)")
        for dsn, label in stores:
            await bench_proofs(dsn, label)
    if pg:
        await drop_database(pg, pg_name)


if __name__ == "__main__":
    asyncio.run(main())
