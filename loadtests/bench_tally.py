"""How the tally's cost grows with the election (part of ``make bench-e2e``), and the auditor's
verification rate.

* **Aggregation** as the server does it at the close (server/election/tally.py): pages of the
  ledger summed per weight class in worker processes (only the ciphertexts decoded: every
  ballot was verified before it was appended), the ballots a later one of the same token
  replaced subtracted, the class sums scaled by the class weight — for 10,000 and 100,000
  ballots (and 1,000,000 with ``--million``). The ballots are real cast ballots of a
  referendum: a few hundred are made with the client library and then given distinct token
  keys, so decoding and aggregation do exactly the work they do on an election's ledger.
* **The tally ceremony** after aggregation: t = 3 of 5 guardians each compute a partial
  decryption of the 6 aggregates with its proof; every share is verified, t combined per
  aggregate, the discrete logs solved (areas up to the roll's total area) and the rule applied.
* **The auditor**: full verification of real ballots (a credential of k = 2 registrars' signatures,
  token signature, every proof) per second on one core, as crypto/election_audit.py does for
  every ballot.

Prints figures and, with ``--plot FILE``, a PNG of tally time against ballots.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import time
import types
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor

from crypto.ballot import Contest, ElectionContext
from crypto.cast import verify_cast_ballot
from crypto.codec import decode_cast_ballot, decode_cast_ballot_bytes, encode_cast_ballot
from crypto.credential import IssuerKey, IssuerSet, generate_issuer_key
from crypto.encoding import Event, decode_event, encode_event
from crypto.outcome import result_of
from crypto.records import (
    DefinitionRecord,
    ElectionEvent,
    Registrar,
    RollCommitment,
    RulePreset,
    encode_aggregates,
    preset_rule,
)
from crypto.tally import aggregate, decrypt_aggregates, highest_per_token
from crypto.threshold import is_trivial, partial_decrypt
from server.db import create_database, drop_database, make_engine
from server.election.ballot_points import BallotPoints, points_of
from server.election.tally import TallyStore, aggregate_pages
from server.ledger.store import LogStore
from server.schema import create_schema
from tests.support.ballots import new_voter
from tests.support.dkg import run_dkg

EID = "bench-tally"
WEIGHTS = [8950, 12025, 14300, 7580, 16845]
REGISTRARS, K = 3, 2  # each ballot's credential carries the signatures of registrars 0 and 1


def setup(samples: int):
    run = run_dkg(EID, 5, 3)
    dkg, shares = run.result, run.shares
    context = ElectionContext(EID, Contest.referendum(), dkg.joint_public_key)
    private = {(r, w): generate_issuer_key() for r in range(K) for w in WEIGHTS}
    keys = {r: {w: IssuerKey(EID, w, private[(r, w)].public_key(), r) for w in WEIGHTS}
            for r in range(K)}
    issuers = IssuerSet(EID, K, keys)
    rng = random.Random(1)
    casts = []
    for i in range(samples):
        w = WEIGHTS[i % len(WEIGHTS)]
        casts.append(new_voter(context, [keys[r][w] for r in range(K)],
                               [private[(r, w)] for r in range(K)],
                               [rng.choice([0, 0, 1, 2])]).cast)
    return dkg, shares, context, issuers, casts


def ledger_of(casts: Sequence, n: int) -> list[bytes]:
    """n ballot events: the sample ballots, each copy under a token key of its own."""
    out = []
    for i in range(n):
        raw = bytearray(encode_cast_ballot(casts[i % len(casts)]))
        out.append(raw)
    # the token key: after the cast ballot's version and the ballot's length prefix, then the
    # ballot's version, election id and election hash (crypto/codec.py)
    offset = 1 + 4 + 1 + 4 + len(EID.encode()) + 32
    events = []
    for i, raw in enumerate(out):
        raw[offset:offset + 8] = i.to_bytes(8, "big")
        events.append(encode_event(Event(ElectionEvent.BALLOT, EID, bytes(raw))))
    return events


def full_decode_aggregation(entries: Sequence[bytes]):
    """What an auditor's replay does for the aggregate: decode every ballot in full (every
    proof point), keep each token's highest counter, aggregate."""
    casts = [decode_cast_ballot(decode_event(data).body) for data in entries]
    return aggregate(highest_per_token(casts), 3)


def server_aggregation(entries: Sequence[bytes], executor, points=None) -> object:
    """The close's work in server/election/tally.py: pages of 1,000 entries summed in worker
    processes with the proofs skipped, from the ballot box's kept points when given, replaced
    ballots subtracted."""
    pages = [(s, entries[s:s + 1000]) for s in range(0, len(entries), 1000)]
    return aggregate_pages(EID, pages, 3, executor, points)


def kept_points(casts: Sequence, n: int) -> dict[int, bytes]:
    """What the ballot box keeps for the ledger of :func:`ledger_of` (the copies share their
    sample's ciphertexts)."""
    sample = [points_of(c) for c in casts]
    return {i: sample[i % len(sample)] for i in range(n)}


async def close_from_database(dsn: str, entries: Sequence[bytes], points: dict[int, bytes],
                              executor) -> tuple[float, float, object]:
    """The server's close as it runs (TallyStore.aggregate_range): pages of the ledger and of
    the kept points read from the database while worker processes sum the pages read. Returns
    (seconds to write the ledger and the points in bulk, seconds of the close's aggregation,
    aggregates)."""
    engine = make_engine(dsn)
    await create_schema(engine)
    kept = BallotPoints(engine)
    origin = "bench.example/tally"
    t0 = time.perf_counter()
    async with engine.connect() as conn:
        raw = (await conn.get_raw_connection()).driver_connection
        for k in range(0, len(entries), 50_000):
            chunk = range(k, min(k + 50_000, len(entries)))
            await raw.copy_records_to_table(
                "log_entries", columns=["log_id", "idx", "data", "leaf_hash"],
                records=[(origin, i, entries[i], bytes(32)) for i in chunk])
            await raw.copy_records_to_table(
                "ballot_points", columns=["election_id", "ledger_index", "points"],
                records=[(EID, i, points[i]) for i in chunk])
        await conn.commit()
    t_write = time.perf_counter() - t0
    ledger = types.SimpleNamespace(store=LogStore(engine, origin))
    store = TallyStore(engine, types.SimpleNamespace(ledger=ledger), None, None,
                       executor=executor, points=kept)
    t0 = time.perf_counter()
    aggs = await store.aggregate_range(EID, 0, len(entries), 3)
    t_agg = time.perf_counter() - t0
    await engine.dispose()
    return t_write, t_agg, aggs


def ceremony(dkg, shares, aggs, total_area: int) -> float:
    t0 = time.perf_counter()
    labelled = {k: v for k, v in aggs.labelled().items() if not is_trivial(v)}
    by_label = {label: [partial_decrypt(EID, label, shares[g], ct) for g in (1, 3, 5)]
                for label, ct in labelled.items()}
    totals = decrypt_aggregates(EID, aggs, by_label, dkg.verification_keys, 3, total_area)
    owners = aggs.participating_owners + 10  # a roll with a few owners who did not vote
    roll = RollCommitment(bytes(32), total_area, owners,
                          ((1, owners - 1), (total_area - (owners - 1), 1)))
    definition = DefinitionRecord(EID, "r", bytes(32), "m", Contest.referendum(),
                                  preset_rule(RulePreset.MAJOR), 1, 2, 5, 3, 1,
                                  tuple(Registrar(f"registrar-{r}", bytes([r + 1]) * 32)
                                        for r in range(REGISTRARS)), K, bytes(32))
    result_of(definition, roll, aggs, totals, (1, 3, 5))
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m loadtests.bench_tally",
                                description=__doc__.split("\n")[0])
    p.add_argument("--sizes", default="10000,100000", help="ballot counts to measure")
    p.add_argument("--million", action="store_true", help="also measure 1,000,000 ballots")
    p.add_argument("--samples", type=int, default=300, help="real ballots made and verified")
    p.add_argument("--plot", help="write a PNG of tally time against ballots")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = p.parse_args(argv)
    dkg, shares, context, issuers, casts = setup(args.samples)
    raws = [encode_cast_ballot(c) for c in casts]

    def audit_all() -> float:
        t0 = time.perf_counter()
        for raw in raws:  # as the ledger verifier does it
            cast, ballot_bytes = decode_cast_ballot_bytes(raw)
            verify_cast_ballot(context, issuers, cast, ballot_bytes=ballot_bytes)
        return len(raws) / (time.perf_counter() - t0)
    audit_all()  # warm: per-key and per-election values computed once, as in a long audit
    rate = max(audit_all(), audit_all())
    print(f"\nauditor: full verification (decode + credential + token signature + every proof) "
          f"{rate:,.0f} ballots/s on one core ({len(casts)} ballots)", flush=True)
    sizes = [int(x) for x in args.sizes.split(",")] + ([1_000_000] if args.million else [])
    rows = []
    pool = ProcessPoolExecutor(args.workers)
    list(pool.map(abs, range(args.workers)))  # start the workers before timing
    entries = ledger_of(casts, 5000)
    t0 = time.perf_counter()
    reference = encode_aggregates(full_decode_aggregation(entries))
    t_full = (time.perf_counter() - t0) / len(entries)
    t0 = time.perf_counter()
    assert encode_aggregates(server_aggregation(entries, pool)) == reference
    t_decompress = (time.perf_counter() - t0) / len(entries)
    t0 = time.perf_counter()
    assert encode_aggregates(server_aggregation(entries, pool, kept_points(casts, 5000))) == \
        reference
    t_kept = (time.perf_counter() - t0) / len(entries)
    print(f"aggregation of 5,000 ballots, µs/ballot: every ballot decoded in full (one core) "
          f"{t_full * 1e6:,.0f}; the close's path ({args.workers} workers) decompressing the "
          f"ledger's points {t_decompress * 1e6:,.0f}, from the kept points "
          f"{t_kept * 1e6:,.0f} — the same bytes each way", flush=True)
    pg = os.environ.get("OWNERVOTE_BENCH_PG_DSN", "")
    for n in sizes:
        entries = ledger_of(casts, n)
        points = kept_points(casts, n)
        t0 = time.perf_counter()
        aggs = server_aggregation(entries, pool, points)
        t_mem = time.perf_counter() - t0
        where = f"in memory {t_mem:.1f} s"
        t_agg = t_mem
        if pg:
            name = f"ownervote_bench_{secrets.token_hex(4)}"
            dsn = asyncio.run(create_database(pg, name))
            try:
                t_write, t_agg, from_db = asyncio.run(close_from_database(dsn, entries, points,
                                                                          pool))
            finally:
                asyncio.run(drop_database(pg, name))
            assert encode_aggregates(from_db) == encode_aggregates(aggs)
            where = (f"from PostgreSQL (read + sum) {t_agg:.1f} s; summed in memory "
                     f"{t_mem:.1f} s; ledger written in bulk in {t_write:.0f} s")
        total_area = aggs.participating_area + 10 ** 6
        t_cer = ceremony(dkg, shares, aggs, total_area)
        rows.append((n, t_agg, t_cer))
        print(f"tally of {n:>9,} ballots: aggregation {t_agg:7.1f} s "
              f"({t_agg / n * 1e6:,.0f} µs/ballot), ceremony + result {t_cer:5.1f} s, "
              f"total {t_agg + t_cer:7.1f} s  ({args.workers} worker processes; aggregation "
              f"{where})", flush=True)
        del entries, points
    if rows and rows[-1][0] < 1_000_000:
        n, t_agg, t_cer = rows[-1]
        print(f"1,000,000 ballots extrapolated linearly from {n:,}: aggregation ≈ "
              f"{t_agg / n * 1e6:,.0f} s + ceremony ≈ {t_cer:.1f} s (run with --million)")
    if args.plot:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.plot([r[0] for r in rows], [r[1] + r[2] for r in rows], "o-", label="tally (total)")
        ax.plot([r[0] for r in rows], [r[1] for r in rows], "s--", label="aggregation")
        ax.axhline(60, color="red", linestyle=":", label="target for 1M: 60 s")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("ballots")
        ax.set_ylabel("seconds")
        ax.set_title("Tally time against ballots")
        ax.legend()
        fig.tight_layout()
        fig.savefig(args.plot, dpi=120)
        print(f"plot written to {args.plot}")


if __name__ == "__main__":
    main()
