"""Run a registrar: ``python -m server.registrar COMMAND``.

    key --key-file F                 create the registrar's Ed25519 signing key unless it exists;
                                     print its verifier key (hex): the trust bundle's
                                     ``registrar <name> <key>`` line and the election
                                     definition's registrar entry name it
    import-roll --dsn D --name N --csv F
                                     keep the registrar's own copy of a roll (the committee's
                                     CSV); prints its hash, which must be the one on the ledger
    serve --dsn D --name N --key-file F --kek-file K --trust BUNDLE --server HOST:PORT
          --listen ADDR --tls-cert C --tls-key K --server-ca CA [--batch-interval S]
          [--tick S] [--trusted-proxy-header NAME] [--development]
                                     follow the server's ledger, publish issuer keys and
                                     issuance batches, and serve RegistrationService to phones

Its store is its own: SQLite by default, PostgreSQL by DSN. The key encryption key (file, at
least 16 bytes) protects its issuer keys at rest. Phones reach it over TLS with its certificate
(``--tls-cert``/``--tls-key``: the ``registrar:<name>`` certificate of server/pki.py, which is
also its client certificate), and it calls the server's mutual-TLS port with the same
certificate, verifying the server with ``--server-ca``. Only ``--development`` (a machine of
one's own) lets either connection be plaintext. Errors of a user's making print one line.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

import grpc
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from ownervote.files import write_private
from ownervote.v1 import election_pb2_grpc

from crypto.errors import DecodeError
from crypto.log.trust import decode_bundle
from rules.errors import RuleError

from ..db import make_engine
from ..logs import setup_logging
from ..metrics import serve_metrics
from ..migrate import ensure_or_exit, migrate_command
from ..process import add_health_and_reflection, bind, make_server, stop_on_signals
from ..tls import TlsConfig, server_only_channel_credentials
from .follower import LedgerFollower
from .identity import AttestationVerifier, DatabaseNonces, GuardedVerifier
from .issuance import Issuer
from .issuer_keys import IssuerKeys
from .limits import DatabaseFailureLimiter
from .node import RegistrarNode
from .roll import RollStore
from .service import RegistrationService

log = logging.getLogger("ownervote.registrar")
DEFAULT_DSN = "sqlite+aiosqlite:///registrar.db"
# registration failures allowed per owner and per client address in FAILURE_WINDOW seconds
OWNER_FAILURES, CLIENT_FAILURES, FAILURE_WINDOW = 5, 20, 300.0


class UsageError(Exception):
    """A mistake of the user's: printed as one line, exit status 2."""


def load_signing_key(path: Path) -> Ed25519PrivateKey:
    try:
        return Ed25519PrivateKey.from_private_bytes(bytes.fromhex(path.read_text().strip()))
    except FileNotFoundError as exc:
        raise UsageError(f"no key file {path}: create it with `python -m server.registrar key "
                         f"--key-file {path}`") from exc
    except ValueError as exc:
        raise UsageError(f"{path} is not a registrar key (64 hex digits)") from exc


def cmd_key(args) -> int:
    try:  # made once: an existing key is kept
        write_private(args.key_file, Ed25519PrivateKey.generate().private_bytes_raw().hex(),
                      exclusive=True)
    except FileExistsError:
        pass
    print(load_signing_key(args.key_file).public_key().public_bytes_raw().hex())
    return 0


async def cmd_import_roll(args) -> int:
    engine = make_engine(args.dsn)
    try:
        await ensure_or_exit(engine, f"python -m server.registrar migrate --dsn {args.dsn}")
        try:
            text = args.csv.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read {args.csv}: {exc}") from exc
        try:
            h, roll = await RollStore(engine, args.name).import_csv(text)
        except (RuleError, ValueError) as exc:
            raise UsageError(f"the roll does not parse: {exc}") from exc
        print(f"roll {h.hex()} owners {roll.total_owners} area {roll.total_area}")
        return 0
    finally:
        await engine.dispose()


async def cmd_serve(args) -> int:
    try:
        bundle = decode_bundle(args.trust.read_bytes())
    except OSError as exc:
        raise UsageError(f"cannot read the trust bundle {args.trust}: {exc}") from exc
    except DecodeError as exc:
        raise UsageError(f"{args.trust} is not a trust bundle: {exc}") from exc
    signing_key = load_signing_key(args.key_file)
    try:
        kek = args.kek_file.read_bytes().strip()
    except OSError as exc:
        raise UsageError(f"cannot read the key encryption key {args.kek_file}: {exc}") from exc
    if len(kek) < 16:
        raise UsageError("the key encryption key must be at least 16 bytes")
    pinned = bundle.registrars.get(args.name)
    if pinned is not None and pinned != signing_key.public_key().public_bytes_raw():
        raise UsageError(f"the trust bundle pins another key for registrar {args.name}")
    if not args.development and not (args.tls_cert and args.tls_key and args.server_ca):
        raise UsageError("a registrar serves TLS and calls the server over mutual TLS: give "
                         "--tls-cert, --tls-key and --server-ca (or --development on a machine "
                         "of your own)")
    engine = make_engine(args.dsn)
    await ensure_or_exit(engine, f"python -m server.registrar migrate --dsn {args.dsn}")
    if args.server_ca and args.tls_cert:
        channel = grpc.aio.secure_channel(args.server, TlsConfig(
            args.tls_cert, args.tls_key, args.server_ca).channel_credentials())
    elif args.server_ca:
        channel = grpc.aio.secure_channel(args.server,
                                          server_only_channel_credentials(args.server_ca))
    else:
        channel = grpc.aio.insecure_channel(args.server)
    follower = LedgerFollower(channel, bundle)
    keys = IssuerKeys(engine, args.name, signing_key, kek)
    issuer = Issuer(engine, args.name, signing_key)
    rolls = RollStore(engine, args.name)
    node = RegistrarNode(args.name, signing_key, follower, keys, issuer, rolls, channel,
                         batch_interval=args.batch_interval)
    # failure limits and used nonces in the registrar's database: shared by its processes
    identity = GuardedVerifier(
        AttestationVerifier(Ed25519PublicKey.from_public_bytes(bundle.identity_provider)),
        per_owner=DatabaseFailureLimiter(engine, OWNER_FAILURES, FAILURE_WINDOW,
                                         scope=args.name),
        per_client=DatabaseFailureLimiter(engine, CLIENT_FAILURES, FAILURE_WINDOW,
                                          scope=args.name),
        nonces=DatabaseNonces(engine, registrar=args.name))
    server = make_server()
    election_pb2_grpc.add_RegistrationServiceServicer_to_server(
        RegistrationService(node, identity, trusted_proxy_header=args.trusted_proxy_header),
        server)
    health = await add_health_and_reflection(server, ["ownervote.v1.RegistrationService"])
    if args.tls_cert:
        port = bind(server, args.listen, TlsConfig(args.tls_cert, args.tls_key)
                                      .server_credentials(require_client_cert=False))
    else:
        port = bind(server, args.listen)
    if port == 0:
        raise UsageError(f"cannot listen on {args.listen}")
    stop = stop_on_signals()
    if args.metrics_listen:
        print(f"metrics on port {serve_metrics(args.metrics_listen)}", flush=True)
    await server.start()
    print(f"ownervote registrar {args.name} listening on port {port}", flush=True)
    duties = asyncio.create_task(node.run(args.tick, stop))
    await stop.wait()
    await health.enter_graceful_shutdown()
    await server.stop(grace=5)
    await duties
    await channel.close()
    await engine.dispose()
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m server.registrar",
                                description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    k = sub.add_parser("key", help="create or show the registrar's signing key")
    k.add_argument("--key-file", type=Path, required=True)
    for name in ("import-roll", "serve"):
        s = sub.add_parser(name)
        s.add_argument("--dsn", default=DEFAULT_DSN)
        s.add_argument("--name", required=True, help="the registrar's name in the bundle")
    m = sub.add_parser("migrate", help="bring the store's schema to this release's revision")
    m.add_argument("--dsn", default=DEFAULT_DSN, help="the store, as an SQLAlchemy URL")
    i = sub.choices["import-roll"]
    i.add_argument("--csv", type=Path, required=True)
    s = sub.choices["serve"]
    s.add_argument("--key-file", type=Path, required=True)
    s.add_argument("--kek-file", type=Path, required=True)
    s.add_argument("--trust", type=Path, required=True)
    s.add_argument("--server", required=True, help="the server's HOST:PORT (ledger, intake)")
    s.add_argument("--server-ca", type=Path, help="CA of the server's TLS certificate")
    s.add_argument("--listen", default="127.0.0.1:0")
    s.add_argument("--tls-cert", type=Path)
    s.add_argument("--tls-key", type=Path)
    s.add_argument("--batch-interval", type=float, default=120.0,
                   help="seconds between issuance batches (default 120)")
    s.add_argument("--tick", type=float, default=1.0)
    s.add_argument("--metrics-listen", metavar="HOST:PORT",
                   help="serve Prometheus metrics there (docs/metrics.md; off by default)")
    s.add_argument("--trusted-proxy-header", default="", metavar="NAME",
                   help="the header a trusted reverse proxy puts the client's address in "
                        "(only behind one; the failure limits are then per that address)")
    s.add_argument("--development", action="store_true",
                   help="allow plaintext (a machine of your own)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    setup_logging()
    try:
        if args.cmd == "key":
            return cmd_key(args)
        if args.cmd == "migrate":
            return asyncio.run(migrate_command(args.dsn))
        if args.cmd == "import-roll":
            return asyncio.run(cmd_import_roll(args))
        return asyncio.run(cmd_serve(args))
    except UsageError as exc:
        print(f"registrar: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
