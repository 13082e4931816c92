"""Run a standalone log: ``python -m server.ledger --dsn DSN --key-file F --origin ORIGIN``.

Serves LedgerService (and health, reflection) and collects cosignatures from the witnesses given
as ``--witness VKEY@HOST:PORT`` (``--quorum`` of them must co-sign, a strict majority; with
fewer it runs only with ``--development``, and every checkpoint it signs says so).
``--generate N`` appends N synthetic entries of ``--entry-size`` bytes with ``--concurrency``
concurrent appenders and prints one line per committed append (used by the crash test and the
benchmark).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path

from ownervote.v1 import ledger_pb2

from crypto.log.note import Ed25519Signer

from ..db import make_engine
from ..keys import load_or_create_key
from ..migrate import ensure_or_exit, migrate_main
from ..process import add_health_and_reflection, bind, make_server, stop_on_signals
from ..tls import TlsConfig
from .node import add_ledger_service, build_log, parse_witness


async def generate(ledger, n: int, size: int, concurrency: int) -> None:
    remaining = n
    lock = asyncio.Lock()

    async def worker() -> None:
        nonlocal remaining
        while True:
            async with lock:
                if remaining <= 0:
                    return
                remaining -= 1
            r = await ledger.append(os.urandom(size))
            sys.stdout.write(f"appended {r.index} size {r.tree_size}\n")

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    sys.stdout.flush()


async def report_role(ledger) -> None:
    """Print "role sequencer" / "role follower" when the process's role changes."""
    role = None
    while True:
        now = "sequencer" if ledger.is_sequencer else "follower"
        if now != role:
            role = now
            print(f"role {role}", flush=True)
        await asyncio.sleep(0.05)


async def run(args: argparse.Namespace) -> None:
    engine = make_engine(args.dsn)
    await ensure_or_exit(engine, f"python -m server.ledger migrate --dsn {args.dsn}")
    signer = load_or_create_key(Path(args.key_file), args.origin, Ed25519Signer)
    witnesses = [parse_witness(w) for w in args.witness]
    if args.witness_ca:  # mutual TLS to the witnesses with the log's client certificate
        creds = TlsConfig(Path(args.client_cert), Path(args.client_key),
                          Path(args.witness_ca)).channel_credentials()
        for w in witnesses:
            w.credentials = creds
    try:
        node = await build_log(engine, signer, witnesses, args.quorum, max_batch=args.max_batch,
                               development=args.development)
    except ValueError as exc:
        raise SystemExit(f"python -m server.ledger: {exc} (--development for a machine of "
                         "your own)") from exc
    await node.ledger.start()
    server = make_server()
    add_ledger_service(server, node)
    health_servicer = await add_health_and_reflection(
        server, [ledger_pb2.DESCRIPTOR.services_by_name["LedgerService"].full_name])
    if args.tls_cert:
        port = bind(server, args.listen, TlsConfig(
            Path(args.tls_cert), Path(args.tls_key)).server_credentials(require_client_cert=False))
    else:
        port = bind(server, args.listen)
    await server.start()
    print(f"log {args.origin} listening on port {port}", flush=True)
    print(f"log verifier key: {signer.verifier().vkey()}", flush=True)
    role_task = asyncio.create_task(report_role(node.ledger))
    stop = stop_on_signals()
    if args.generate:
        await generate(node.ledger, args.generate, args.entry_size, args.concurrency)
        print("generated", flush=True)
        if args.exit_after_generate:
            stop.set()
    await stop.wait()
    role_task.cancel()
    await health_servicer.enter_graceful_shutdown()
    await server.stop(grace=5)
    await node.ledger.close()
    await engine.dispose()


def main() -> None:
    if sys.argv[1:2] == ["migrate"]:
        migrate_main("python -m server.ledger", "--dsn", "sqlite+aiosqlite:///ledger.db")
    p = argparse.ArgumentParser(
        prog="python -m server.ledger", description=__doc__.split("\n")[0],
        epilog="python -m server.ledger migrate --dsn DSN: bring the store's schema to this "
               "release's revision (a store at an older one is refused at start)")
    p.add_argument("--dsn", default="sqlite+aiosqlite:///ledger.db", metavar="DSN",
                   help="the log's store, as an SQLAlchemy URL (default %(default)s)")
    p.add_argument("--origin", required=True, help="the log's origin line (C2SP checkpoint)")
    p.add_argument("--key-file", required=True, help="the log's signing key (created if missing)")
    p.add_argument("--listen", default="127.0.0.1:0", metavar="HOST:PORT",
                   help="where to serve LedgerService (default %(default)s: any free port)")
    p.add_argument("--witness", action="append", default=[], metavar="VKEY@HOST:PORT",
                   help="a witness to collect cosignatures from; repeatable")
    p.add_argument("--quorum", type=int, default=0,
                   help="cosignatures a checkpoint needs (a strict majority of --witness)")
    p.add_argument("--development", action="store_true",
                   help="run with a quorum that is not a strict majority of the witnesses (or "
                        "none): every checkpoint then says so; never for a deployment")
    p.add_argument("--max-batch", type=int, default=1000)
    p.add_argument("--generate", type=int, default=0)
    p.add_argument("--entry-size", type=int, default=1024)
    p.add_argument("--concurrency", type=int, default=200)
    p.add_argument("--exit-after-generate", action="store_true")
    p.add_argument("--tls-cert", help="PEM certificate: serve TLS")
    p.add_argument("--tls-key", help="PEM private key of --tls-cert")
    p.add_argument("--witness-ca", help="PEM CA of the witnesses: call them over mutual TLS")
    p.add_argument("--client-cert", help="PEM client certificate presented to the witnesses")
    p.add_argument("--client-key", help="PEM private key of --client-cert")
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    asyncio.run(run(p.parse_args()))


if __name__ == "__main__":
    main()
