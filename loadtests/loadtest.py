"""``make loadtest``: a locust load test of a whole local deployment over gRPC.

    .venv/bin/python -m loadtests.loadtest [--users 20] [--spawn-rate 10] [--duration 30s]
        [--communities 4] [--plain-witnesses] [--csv PREFIX] [--sqlite] [--workdir DIR] ...

1. Starts a deployment as separate processes (``clients/local_cluster.py``: the server with the
   ledger and three witnesses, quorum 2, validating every election rule unless
   ``--plain-witnesses``) on PostgreSQL — a fresh database, dropped afterwards, on
   ``OWNERVOTE_BENCH_PG_DSN`` or else on the local server
   (``postgresql+asyncpg://postgres@127.0.0.1:5432/test``) when ``pg_isready`` answers — else on
   SQLite (always with ``--sqlite``).
2. Prepares the scenario and the request pool before the timed phase (``loadtests/prepare.py``:
   K communities, an election each with its key ceremony, real credentials, prepared credential
   requests and ballots).
3. Runs ``locust -f loadtests/locustfile.py --headless -u USERS -r RATE -t DURATION --host
   ADDRESS --only-summary`` as a subprocess (output to a file, printed when it ends; with
   ``--csv PREFIX`` locust also writes ``PREFIX_stats.csv`` and friends).
4. Stops everything it started, also on an error or Ctrl-C.

The load generator runs on the same machine as the deployment, so on a small machine the figures
are a floor. The exit status is locust's: 1 when any request failed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from clients.local_cluster import ROOT, LocalCluster
from clients.scenario import guardian_names
from server.db import create_database, drop_database

from .prepare import GUARDIANS, election_ids, prepare, write_pool
from .scenario import city

LOCAL_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
LOCUSTFILE = ROOT / "loadtests" / "locustfile.py"


def seconds(duration: str) -> int:
    """Locust's run time syntax (``90``, ``30s``, ``1m30s``, ``1h``) in seconds."""
    m = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s?)?", duration.strip())
    if not duration.strip() or not m:
        raise argparse.ArgumentTypeError(f"{duration!r}: give e.g. 45s, 2m or 1m30s")
    h, mi, s = (int(x or 0) for x in m.groups())
    return 3600 * h + 60 * mi + s


def postgres_base() -> str:
    """The PostgreSQL server to create the database on, or '' for SQLite."""
    base = os.environ.get("OWNERVOTE_BENCH_PG_DSN", "")
    if base:
        return base
    if shutil.which("pg_isready") and subprocess.run(
            ["pg_isready", "-q", "-h", "127.0.0.1", "-p", "5432"], timeout=10).returncode == 0:
        return LOCAL_PG
    return ""


def locust_command(args: argparse.Namespace, host: str) -> list[str]:
    cmd = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
           "-u", str(args.users), "-r", str(args.spawn_rate), "-t", args.duration,
           "--host", host, "--stop-timeout", "5"]
    if not args.table:
        cmd.append("--only-summary")
    if args.csv:
        cmd += ["--csv", str(args.csv)]
    return cmd


def run_locust(args: argparse.Namespace, host: str, pool: Path, out: Path,
               ca: Path | None = None, registrar: str = "") -> int:
    env = dict(os.environ, OWNERVOTE_LOAD_POOL=str(pool), OWNERVOTE_LOAD_REGISTRAR=registrar)
    if ca is not None:  # the server's public port serves TLS
        env["OWNERVOTE_LOAD_CA"] = str(ca)
    with open(out, "w") as f:
        proc = subprocess.Popen(locust_command(args, host), cwd=ROOT, stdout=f,
                                stderr=subprocess.STDOUT, env=env)
    try:
        return proc.wait(timeout=seconds(args.duration) + 120)
    except KeyboardInterrupt:  # Ctrl-C reached locust too: let it stop and print its summary
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            pass
        raise
    finally:
        if proc.poll() is None:  # interrupted or hung: stop it too
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        print(out.read_text(errors="replace"), flush=True)


def default_ballots(args: argparse.Namespace) -> int:
    """Enough prepared ballots that the voters do not run dry during the run: 50 per second of
    run time (the server shared with locust on this 2-core machine accepts about 20)."""
    return max(500, 50 * seconds(args.duration))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m loadtests.loadtest",
                                description=__doc__.split("\n")[0])
    p.add_argument("--users", type=int, default=20, help="concurrent locust users (default 20)")
    p.add_argument("--spawn-rate", type=float, default=10,
                   help="users started per second (default 10)")
    p.add_argument("--duration", default="30s", help="locust run time, e.g. 30s, 2m (default 30s)")
    p.add_argument("--communities", type=int, default=4,
                   help="communities, one election each (default 4)")
    p.add_argument("--units", type=int, nargs=2, default=(120, 300), metavar=("MIN", "MAX"),
                   help="units per community (default 120 300)")
    p.add_argument("--credentials", type=int, default=60,
                   help="real credentials obtained in preparation; they cast the ballots "
                   "(default 60)")
    p.add_argument("--ballots", type=int, help="prepared ballots (default 50 per second of "
                   "--duration, at least 500)")
    p.add_argument("--lead", type=float, help="seconds from scheduling to opening, enough to "
                   "prepare while READY (default 10 + 2 per community + 1 per 200 ballots)")
    p.add_argument("--plain-witnesses", action="store_true",
                   help="witnesses that check append-only growth but not the election rules")
    p.add_argument("--sqlite", action="store_true", help="SQLite even if PostgreSQL answers")
    p.add_argument("--csv", metavar="PREFIX", help="locust's CSV statistics (PREFIX_stats.csv…)")
    p.add_argument("--table", action="store_true",
                   help="locust's periodic statistics tables, not only the summary")
    p.add_argument("--workdir", type=Path, help="keep keys, logs, pool and locust output here "
                   "(default: a temporary directory, removed)")
    p.add_argument("--seed", type=int, default=2026, help="scenario seed (default 2026)")
    args = p.parse_args(argv)
    try:
        run_time = seconds(args.duration)
    except argparse.ArgumentTypeError as exc:
        p.error(f"--duration: {exc}")
    if args.csv:
        args.csv = Path(args.csv).resolve()
    ballots = args.ballots if args.ballots is not None else default_ballots(args)
    lead = args.lead if args.lead is not None else 10 + 2 * args.communities + ballots / 200

    # SIGTERM unwinds like Ctrl-C, so that everything started below is stopped
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    t_start = time.perf_counter()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="ownervote-load-"))
    workdir.mkdir(parents=True, exist_ok=True)
    base = "" if args.sqlite else postgres_base()
    db_name = f"ownervote_load_{secrets.token_hex(4)}"
    dsn = None
    cluster = None
    code = 1
    try:
        if base:
            dsn = asyncio.run(create_database(base, db_name))
        communities = city(args.communities, tuple(args.units), args.seed)
        eids = election_ids(communities, secrets.token_hex(2))
        kind = "plain" if args.plain_witnesses else "validating"
        print(f"ownervote load test: server on {'PostgreSQL' if dsn else 'SQLite'} + 3 {kind} "
              f"witnesses (quorum 2), locust on the same machine", flush=True)
        cluster = LocalCluster(workdir / "cluster", dsn=dsn, validating=not args.plain_witnesses,
                               guardian_names=guardian_names(eids, GUARDIANS), lifecycle_tick=0.2)
        cluster.start()
        print(f"== deployment up: server {cluster.address} ({time.perf_counter() - t_start:.1f} "
              "s)\n== preparing the scenario and the request pool", flush=True)
        pool = asyncio.run(prepare(cluster, communities, eids, credentials=args.credentials,
                                   ballots=ballots, lead=lead, valid_for=run_time + 3600,
                                   seed=args.seed))
        pool_path = workdir / "pool.json"
        write_pool(pool, pool_path)
        print(f"== locust: {args.users} users (voters 4 : readers 1), {args.spawn_rate:g}/s "
              f"spawn rate, {args.duration}", flush=True)
        code = run_locust(args, cluster.address, pool_path, workdir / "locust.out", cluster.ca,
                          cluster.registrar_addresses[pool.registrar])
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        code = 130
    finally:
        if cluster is not None:
            cluster.stop()
        if dsn:
            asyncio.run(drop_database(base, db_name))
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
        print(f"(all processes stopped; {time.perf_counter() - t_start:.1f} s in all)",
              flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
