"""Credentials per second end to end: phones obtaining a credential from k = 2 of 3 registrars
(``python -m loadtests.bench_registration [--owners N] [--concurrency C]``).

A local deployment (server, three validating witnesses, three registrar processes, SQLite or
PostgreSQL with OWNERVOTE_BENCH_PG_DSN) runs one election to READY; then N owners' phones, C at
a time, each do what the voter SDK does: the eligibility question, a token key, one blinding per
registrar with keys, one attestation of all the blinded messages, a request to each registrar
over a connection of its own, and every signature finalized (verified). It prints the wall time,
credentials per second and the median and p99 of one phone's registration.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import statistics
import tempfile
import time
from pathlib import Path

from clients.local_cluster import LocalCluster
from clients.scenario import ElectionScenario, guardian_names

from .scenario import community

EID = f"bench-registration-{secrets.token_hex(3)}"  # its own, on a shared database


async def run(cluster: LocalCluster, owners: int, concurrency: int) -> None:
    c = community(EID, owners, random.Random(2026))
    async with ElectionScenario(cluster, EID, first_cast_delay=(0.0, 0.0)) as sc:
        await sc.define(c.csv, EID, motion="bench", opens_in=3600, open_for=3600,
                        ceremony_in=1)
        election = await sc.run_ceremony(timeout=120)
        ids = c.voters
        limit = asyncio.Semaphore(concurrency)
        times: list[float] = []

        async def one(owner: str) -> None:
            async with limit:
                t0 = time.perf_counter()
                await sc.voter.obtain_credential(election,
                                                 cluster.provider.attester(owner, EID))
                times.append(time.perf_counter() - t0)

        t0 = time.perf_counter()
        await asyncio.gather(*(one(o) for o in ids))
        wall = time.perf_counter() - t0
    times.sort()
    print(f"registration: {len(ids)} phones, {concurrency} at a time, credentials from "
          f"{len(election.issuers)} registrars (k = {election.definition.registrar_threshold})")
    print(f"  {wall:.1f} s wall, {len(ids) / wall:.1f} credentials/s; one phone: median "
          f"{statistics.median(times) * 1000:.0f} ms, p99 "
          f"{times[int(0.99 * (len(times) - 1))] * 1000:.0f} ms")


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m loadtests.bench_registration",
                                description=__doc__.split("\n")[0])
    p.add_argument("--owners", type=int, default=300)
    p.add_argument("--concurrency", type=int, default=16)
    args = p.parse_args()
    directory = Path(tempfile.mkdtemp(prefix="ownervote-bench-reg-"))
    cluster = LocalCluster(directory, dsn=os.environ.get("OWNERVOTE_BENCH_PG_DSN"),
                           guardian_names=guardian_names(EID, 3), lifecycle_tick=0.2)
    try:
        cluster.start()
        asyncio.run(run(cluster, args.owners, args.concurrency))
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
