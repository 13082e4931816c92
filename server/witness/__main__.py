"""Run a witness: ``python -m server.witness --name NAME --key-file F --follow ORIGIN=VKEY ...``.

The key file holds the C2SP signer key string of the witness's cosignature key; it is created on
first start. ``--validate elections`` makes it a validating witness that replays every election
rule on every entry before co-signing (crypto.election_audit.LedgerVerifier, one per followed
log); ``--validate module:function`` plugs in another validator. A validating witness also needs
``--validating-key-file`` and, per followed log, the log's LedgerService address
(``--follow ORIGIN=VKEY@HOST:PORT``), which it calls over TLS: with its own certificate when
it has one and a CA (``--tls-cert``, ``--tls-key``, ``--tls-client-ca``; ``--ledger-ca`` if the
log's certificate is from another CA), else verifying the log only (``--ledger-ca``); plain
gRPC only when given no CA (a development log).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import sys
from pathlib import Path

from ownervote.v1 import witness_pb2, witness_pb2_grpc

from crypto.audit import LedgerVerifier
from crypto.log.checkpoint import CosignatureSigner
from crypto.log.note import Ed25519Verifier

from ..db import make_engine
from ..keys import load_or_create_key
from ..metrics import serve_metrics
from ..migrate import ensure_or_exit, migrate_main
from ..process import add_health_and_reflection, bind, make_server, stop_on_signals
from ..tls import TlsConfig, server_only_channel_credentials
from .service import FollowedLog, Witness
from .store import WitnessStore


def parse_follow(spec: str) -> FollowedLog:
    origin, sep, rest = spec.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError("--follow takes ORIGIN=VKEY[@HOST:PORT]")
    vkey, _, address = rest.partition("@")
    return FollowedLog(origin, Ed25519Verifier.from_vkey(vkey), address or None)


def load_validator(spec: str):
    module, _, func = spec.partition(":")
    return getattr(importlib.import_module(module), func)


def election_validator(origin: str):
    """A fresh ledger verifier for one followed log: every election rule, entry by entry."""
    return LedgerVerifier().apply


def ledger_credentials(args: argparse.Namespace, tls: TlsConfig | None):
    """How a validating witness calls the logs it follows (see the module docstring)."""
    ca = Path(args.ledger_ca) if args.ledger_ca else tls.ca if tls else None
    if ca is None:
        return None
    if tls is not None:
        return TlsConfig(tls.cert, tls.key, ca).channel_credentials()
    return server_only_channel_credentials(ca)


async def serve(args: argparse.Namespace) -> None:
    engine = make_engine(args.db)
    await ensure_or_exit(engine, f"python -m server.witness migrate --db {args.db}")
    store = WitnessStore(engine)
    signer = load_or_create_key(Path(args.key_file), args.name, CosignatureSigner)
    vsigner = validator = factory = None
    if args.validate:
        if not args.validating_key_file:
            raise SystemExit("--validate needs --validating-key-file")
        vsigner = load_or_create_key(Path(args.validating_key_file), args.name + "/validated",
                                     CosignatureSigner)
        if args.validate == "elections":
            factory = election_validator
        else:
            validator = load_validator(args.validate)
    tls = TlsConfig(Path(args.tls_cert), Path(args.tls_key),
                    Path(args.tls_client_ca) if args.tls_client_ca else None) \
        if args.tls_cert else None
    witness = Witness(store, signer, args.follow, validating_signer=vsigner, validator=validator,
                      validator_factory=factory, ledger_credentials=ledger_credentials(args, tls))
    server = make_server()
    witness_pb2_grpc.add_WitnessServiceServicer_to_server(witness, server)
    health_servicer = await add_health_and_reflection(
        server, [witness_pb2.DESCRIPTOR.services_by_name["WitnessService"].full_name])
    if tls is not None:  # mutual TLS when a client CA is given: only the log may call
        port = bind(server, args.listen, tls.server_credentials(
            require_client_cert=tls.ca is not None))
    else:
        port = bind(server, args.listen)
    if args.metrics_listen:
        print(f"metrics on port {serve_metrics(args.metrics_listen)}", flush=True)
    await server.start()
    print(f"witness {args.name} listening on port {port}", flush=True)
    print(f"verifier key: {signer.verifier().vkey()}", flush=True)
    if vsigner is not None:
        print(f"validating verifier key: {vsigner.verifier().vkey()}", flush=True)
    await stop_on_signals().wait()
    await health_servicer.enter_graceful_shutdown()
    await server.stop(grace=5)
    await witness.close()
    await engine.dispose()


def main() -> None:
    if sys.argv[1:2] == ["migrate"]:
        migrate_main("python -m server.witness", "--db", "sqlite+aiosqlite:///witness.db")
    p = argparse.ArgumentParser(
        prog="python -m server.witness", description=__doc__.split("\n")[0],
        epilog="python -m server.witness migrate --db DSN: bring the store's schema to this "
               "release's revision (a store at an older one is refused at start)")
    p.add_argument("--name", required=True, help="the witness's key name")
    p.add_argument("--key-file", required=True,
                   help="the witness's cosignature key (C2SP note key; created if missing)")
    p.add_argument("--validating-key-file",
                   help="its second key, for checkpoints it co-signs after validating (--validate)")
    p.add_argument("--db", default="sqlite+aiosqlite:///witness.db", metavar="DSN",
                   help="its store, as an SQLAlchemy URL (default %(default)s; "
                        "postgresql+asyncpg://USER@HOST/DB for PostgreSQL)")
    p.add_argument("--listen", default="127.0.0.1:0", metavar="HOST:PORT",
                   help="where to serve WitnessService (default %(default)s: any free port)")
    p.add_argument("--follow", action="append", type=parse_follow, default=[], required=True,
                   metavar="ORIGIN=VKEY[@HOST:PORT]",
                   help="a log to witness: its origin, its verifier key, and where its server "
                        "is (needed to validate); repeatable")
    p.add_argument("--validate", help="'elections' (every election rule, the default validator "
                   "of an ownervote ledger) or module:function called as f(index, entry)")
    p.add_argument("--metrics-listen", metavar="HOST:PORT",
                   help="serve Prometheus metrics there (docs/metrics.md; off by default)")
    p.add_argument("--tls-cert", help="PEM certificate: serve TLS")
    p.add_argument("--tls-key", help="PEM private key of --tls-cert")
    p.add_argument("--tls-client-ca", help="PEM CA of client certificates: require mutual TLS")
    p.add_argument("--ledger-ca", help="PEM CA of the followed logs' TLS certificates (default: "
                   "--tls-client-ca)")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    asyncio.run(serve(p.parse_args()))


if __name__ == "__main__":
    main()
