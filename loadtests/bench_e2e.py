"""End-to-end figures (part of ``make bench``): credentials issued per second and ballots
accepted per second through gRPC into the store with the ledger, with p50/p99 latency.

A local deployment as separate processes (clients/local_cluster.py: the server and three
validating witnesses, quorum 2) on PostgreSQL when ``OWNERVOTE_BENCH_PG_DSN`` is set (a fresh
database is created and dropped), else SQLite. A generated roll of 3,000 owners; one referendum.
The load generator runs on the same 2-core machine. Credentials: each request is the phone's
whole step (blind, the registrar's blind signature, finalize with its verification). Ballots:
encrypted and signed before the timed phase, so the figures measure the server (full checks,
ledger append, witness co-signing — each witness replays every rule — and the receipt).
Prints figures; asserts nothing.
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

import grpc

from clients.local_cluster import LocalCluster
from clients.scenario import ElectionScenario, guardian_names, registrar_endpoints
from clients.voter_sdk import VoterClient
from crypto.records import ElectionState
from rules.roll import Unit
from rules.roll_csv import roll_to_csv
from server.db import create_database, drop_database

PLANS = [8950, 8950, 8950, 12025, 12025, 14300, 7580, 7580, 16845, 6520, 21050]


def roll_csv(owners: int, rng: random.Random) -> bytes:
    units = [Unit.sole(f"{1 + i % 20}-{i:05d}", f"{1 + i % 20}", rng.choice(PLANS),
                       f"owner-{i:05d}") for i in range(owners)]
    return roll_to_csv(units).encode()


def summary(label: str, latencies: list[float], elapsed: float, concurrency: int) -> str:
    q = statistics.quantiles(latencies, n=100)
    return (f"{label:<24} {len(latencies) / elapsed:8.1f}/s   p50 {q[49] * 1000:7.1f} ms   "
            f"p99 {q[98] * 1000:7.1f} ms   ({len(latencies)} requests, {concurrency} in flight)")


async def offered_load(voters, requests, rate: float, seconds: float):
    """Open loop: send at ``rate`` per second for ``seconds`` whatever the replies; the accepted
    rate and the latency percentiles of the accepted ballots."""
    loop = asyncio.get_running_loop()
    n = int(rate * seconds)
    lat: list[float] = []
    failed = 0

    async def one(k: int) -> None:
        nonlocal failed
        t = time.perf_counter()
        try:
            await voters[k % len(voters)].ballot_box.CastBallot(requests[k])
            lat.append(time.perf_counter() - t)
        except grpc.RpcError:
            failed += 1

    t0 = loop.time()
    tasks = []
    for k in range(n):
        await asyncio.sleep(max(0.0, t0 + k / rate - loop.time()))
        tasks.append(asyncio.create_task(one(k)))
    await asyncio.gather(*tasks)
    elapsed = loop.time() - t0
    q = statistics.quantiles(lat, n=100) if len(lat) > 1 else [0.0] * 99
    return len(lat) / elapsed, q[49], q[98], failed


async def measure(cluster: LocalCluster, eid: str, owners: int, credentials: int, ballots: int,
                  concurrency: int, sweep: list[float], step: float) -> list[tuple]:
    rng = random.Random(7)
    async with ElectionScenario(cluster, eid) as scenario:
        # every wallet casts again in each sweep step: a revote cap above the whole run's
        await scenario.define(roll_csv(owners, rng), "bench", motion="Benchmark", opens_in=20,
                              open_for=3580, max_ballots_per_token=255)
        election = await scenario.run_ceremony()
        return await _measure(scenario, election, rng, owners, credentials, ballots,
                              concurrency, sweep, step)


async def _measure(scenario: ElectionScenario, election, rng: random.Random, owners: int,
                   credentials: int, ballots: int, concurrency: int, sweep: list[float],
                   step: float) -> list[tuple]:
    cluster, eid = scenario.cluster, scenario.election_id
    channels = [cluster.channel(a) for a in cluster.addresses]  # TLS, as phones
    # requests alternate between server processes
    voters = [VoterClient(c, cluster.bundle, registrars=registrar_endpoints(cluster),
                          first_cast_delay=(0.0, 0.0)) for c in channels]
    ids = [f"owner-{i:05d}" for i in range(owners)]
    # each owner's identity provider, which attests once the phone has blinded
    attestations = [cluster.provider.attester(o, eid) for o in ids[:max(credentials, ballots)]]
    limit = asyncio.Semaphore(concurrency)
    wallets = []

    async def credential(attest, out: list[float]) -> None:
        async with limit:
            t = time.perf_counter()
            client = voters[len(out) % len(voters)]
            wallets.append(await client.obtain_credential(election, attest))
            out.append(time.perf_counter() - t)

    lat: list[float] = []
    t0 = time.perf_counter()
    half = credentials // 2
    await asyncio.gather(*(credential(a, lat) for a in attestations[:half]))
    print(summary("credentials issued", lat, time.perf_counter() - t0, concurrency)
          + "  eligibility + request + finalize", flush=True)
    # the registrar's issuing alone: the app asked for eligibility before (when the owner first
    # opened it), so the timed step is the credential request and its finalization
    async def eligibility(attest) -> int:
        async with limit:
            return await voters[0].eligibility(election, *attest(()))  # eligibility-only

    weights = await asyncio.gather(*(eligibility(a) for a in attestations[half:credentials]))

    async def request(attest, weight, out: list[float]) -> None:
        async with limit:
            t = time.perf_counter()
            client = voters[len(out) % len(voters)]
            wallets.append(await client.obtain_credential(election, attest, weight))
            out.append(time.perf_counter() - t)

    lat = []
    t0 = time.perf_counter()
    await asyncio.gather(*(request(a, w, lat) for a, w in
                           zip(attestations[half:credentials], weights, strict=True)))
    print(summary("credentials issued", lat, time.perf_counter() - t0, concurrency)
          + "  request + finalize (eligibility asked before)", flush=True)
    # wallets for the ballots (untimed if more ballots than credentials were asked for)
    await asyncio.gather(*(credential(a, []) for a in attestations[credentials:ballots]))
    await scenario.wait_for(ElectionState.OPEN, timeout=120)
    def next_request(k: int):  # the k-th wallet's next ballot (its next revote counter)
        prepared = VoterClient.prepare_cast(election, wallets[k], [rng.choice([0, 0, 0, 1, 2])])
        wallets[k] = prepared.wallet
        return prepared.request

    requests = [next_request(k) for k in range(min(ballots, len(wallets)))]

    async def cast(request, out: list[float]) -> None:
        async with limit:
            t = time.perf_counter()
            await voters[len(out) % len(voters)].ballot_box.CastBallot(request)
            out.append(time.perf_counter() - t)

    lat = []
    t0 = time.perf_counter()
    await asyncio.gather(*(cast(rq, lat) for rq in requests))
    print(summary("ballots accepted", lat, time.perf_counter() - t0, concurrency), flush=True)
    points = []
    for rate in sweep:  # each wallet casts again: every ballot is new, checked and appended
        pool = [next_request(k % len(wallets)) for k in range(int(rate * step))]
        got, p50, p99, failed = await offered_load(voters, pool, rate, step)
        points.append((rate, got, p50, p99, failed))
        print(f"offered {rate:6.0f}/s → accepted {got:6.1f}/s   p50 {p50 * 1000:7.1f} ms   "
              f"p99 {p99 * 1000:7.1f} ms   refused/failed {failed}", flush=True)
    for c in channels:
        await c.close()
    return points


def plot(results: dict[int, list[tuple]], path: str, witnesses: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for servers, points in results.items():
        offered = [p[0] for p in points]
        ax1.plot(offered, [p[1] for p in points], "o-", label=f"{servers} server process(es)")
        ax2.plot(offered, [p[2] * 1000 for p in points], "o-", label=f"p50, {servers} proc.")
        ax2.plot(offered, [p[3] * 1000 for p in points], "s--", label=f"p99, {servers} proc.")
    top = max(p[0] for points in results.values() for p in points)
    ax1.plot([0, top], [0, top], ":", color="grey", label="accepted = offered")
    ax1.set_xlabel("offered ballots/s")
    ax1.set_ylabel("accepted ballots/s")
    ax1.set_title("Throughput against offered load")
    ax1.legend()
    ax2.axhline(500, color="red", linestyle=":", label="p99 target 500 ms")
    ax2.set_xlabel("offered ballots/s")
    ax2.set_ylabel("latency, ms")
    ax2.set_yscale("log")
    ax2.set_title("Latency against offered load")
    ax2.legend(fontsize=7)
    fig.suptitle(f"ownervote end to end on 2 cores: gRPC → PostgreSQL + ledger + 3 {witnesses} "
                 "witnesses, load generator included")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"plot written to {path}")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m loadtests.bench_e2e",
                                description=__doc__.split("\n")[0])
    p.add_argument("--owners", type=int, default=3000)
    p.add_argument("--credentials", type=int, default=2000)
    p.add_argument("--ballots", type=int, default=1000)
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--servers", default="1",
                   help="server process counts to measure, e.g. 1,2 (more than one needs "
                        "PostgreSQL)")
    p.add_argument("--sweep", default="",
                   help="offered loads in ballots/s for an open-loop sweep, e.g. 25,50,100")
    p.add_argument("--step", type=float, default=10.0, help="seconds per offered load")
    p.add_argument("--plot", help="PNG of throughput and latency against offered load")
    p.add_argument("--plain-witnesses", action="store_true",
                   help="witnesses that check append-only growth but not the election rules")
    args = p.parse_args(argv)
    base = os.environ.get("OWNERVOTE_BENCH_PG_DSN", "")
    sweep = [float(x) for x in args.sweep.split(",") if x]
    results = {}
    for servers in (int(x) for x in args.servers.split(",")):
        results[servers] = run_once(args, base, servers, sweep)
    if args.plot and sweep:
        plot(results, args.plot, "plain" if args.plain_witnesses else "validating")


def run_once(args, base: str, servers: int, sweep: list[float]) -> list[tuple]:
    name = f"ownervote_bench_{secrets.token_hex(4)}"
    dsn = asyncio.run(create_database(base, name)) if base else None
    kind = "plain" if args.plain_witnesses else "validating"
    print(f"\nend to end through gRPC on {'PostgreSQL' if dsn else 'SQLite'}: {servers} "
          f"server process(es) + 3 {kind} witnesses (quorum 2), load generator on the same "
          "machine", flush=True)
    eid = f"bench-{secrets.token_hex(3)}"
    with tempfile.TemporaryDirectory(prefix="ownervote-bench-") as tmp:
        cluster = LocalCluster(Path(tmp), dsn=dsn, lifecycle_tick=0.2,
                               validating=not args.plain_witnesses, servers=servers,
                               guardian_names=guardian_names(eid))
        try:
            cluster.start()
            return asyncio.run(measure(cluster, eid, args.owners, args.credentials,
                                       args.ballots, args.concurrency, sweep, args.step))
        finally:
            cluster.stop()
            if dsn:
                asyncio.run(drop_database(base, name))


if __name__ == "__main__":
    main()
