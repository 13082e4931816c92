"""The ownervote server: ``python -m server [--config FILE]`` (settings in server/config.py).

Serves the ledger (LedgerService) and the election services (AdminService, ElectionService,
BallotBoxService, GuardianService, IssuanceService), with gRPC health checking and server
reflection, and runs the lifecycle driver (server/election/driver.py) that moves every election
along its schedule. Credentials are issued by the registrars, each its own process
(``python -m server.registrar``) with its own keys; this server holds none of them and only
appends their signed records. With
``guardian_listen`` the same services are also served on a mutual-TLS port that requires a
client certificate from ``client_ca`` (guardians; administrators with CN ``admin``, the only
callers AdminService answers outside a loopback development setup; registrars). The public
port serves TLS unless ``development = true`` (server/config.py, Transport).
Cast ballots are checked in ``verify_workers`` worker processes, started before the server
listens. SIGTERM/SIGINT shut it down gracefully (driver stopped, health NOT_SERVING, in-flight
calls finished, verification workers stopped, ledger closed).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

from grpc_health.v1 import health_pb2
from ownervote.v1 import election_pb2_grpc

from crypto.log.note import Ed25519Signer

from .config import Config, ConfigError, load_config
from .db import make_engine
from .election.append_guard import ElectionAppendGuard
from .election.ballot_box import BallotBox, BallotVerifier
from .election.ballot_points import BallotPoints
from .election.ceremony import CeremonyStore
from .election.driver import LifecycleDriver
from .election.issuance_intake import IssuanceIntake
from .election.rpc.admin_service import AdminAuth, AdminService
from .election.rpc.ballot_service import BallotBoxService
from .election.rpc.election_service import ElectionService
from .election.rpc.guardian_service import GuardianService
from .election.rpc.issuance_service import IssuanceService
from .election.store import ElectionStore
from .election.tally import TallyStore
from .keys import load_or_create_key
from .ledger.node import add_ledger_service, build_log, parse_witness
from .logs import setup_logging
from .metrics import serve_metrics
from .migrate import ensure_or_exit, migrate_command
from .process import add_health_and_reflection, bind, make_server, stop_on_signals
from .tls import TlsConfig

log = logging.getLogger("ownervote.server")
DEVELOPMENT_SERVICE = "ownervote.v1.Development"  # reported SERVING by a development server
SERVICES = ("ownervote.v1.LedgerService", "ownervote.v1.AdminService",
            "ownervote.v1.ElectionService", "ownervote.v1.BallotBoxService",
            "ownervote.v1.GuardianService", "ownervote.v1.IssuanceService")


async def serve(cfg: Config, migrate_hint: str = "python -m server migrate") -> None:
    engine = make_engine(cfg.dsn)
    await ensure_or_exit(engine, migrate_hint)
    signer = load_or_create_key(Path(cfg.log_key_file), cfg.origin, Ed25519Signer)
    witnesses = [parse_witness(w) for w in cfg.witnesses]
    if cfg.witness_ca:
        creds = TlsConfig(Path(cfg.client_cert), Path(cfg.client_key),
                          Path(cfg.witness_ca)).channel_credentials()
        for w in witnesses:
            w.credentials = creds
    node = await build_log(engine, signer, witnesses, cfg.quorum, development=cfg.development)
    if cfg.development:
        log.warning("DEVELOPMENT: the witness quorum (%d of %d) is not a strict majority; every "
                    "checkpoint says so and only a development trust bundle trusts this log",
                    cfg.quorum, len(witnesses))
    if not cfg.public_tls:
        log.warning("DEVELOPMENT: the public port %s serves plaintext", cfg.listen)
    if cfg.admin_token:
        log.warning("DEVELOPMENT: AdminService accepts a bearer token from this machine")
    # the sequencer's word on ballots: none after its election's close, counters in order
    node.ledger.guard = ElectionAppendGuard(engine, node.ledger.store.log_id)
    await node.ledger.start()
    store = ElectionStore(engine, node.ledger, snapshot_ttl=cfg.snapshot_ttl)
    intake = IssuanceIntake(store)
    ceremony = CeremonyStore(engine, store)
    # the close's aggregation sums pages of the ledger in worker processes
    tally_pool = ProcessPoolExecutor(cfg.verify_workers, mp_context=get_context("spawn")) \
        if cfg.verify_workers else None
    points = BallotPoints(engine)  # accepted ballots' points, uncompressed, for the close
    tally = TallyStore(engine, store, ceremony, intake, executor=tally_pool, points=points)
    verifier = BallotVerifier(cfg.verify_workers)  # ballot checks in worker processes
    await verifier.start()
    box = BallotBox(node.ledger, verifier=verifier, points=points)
    driver = LifecycleDriver(store, ceremony, tally, box, intake, close_grace=cfg.close_grace)
    server = make_server()
    add_ledger_service(server, node)
    election_pb2_grpc.add_AdminServiceServicer_to_server(
        AdminService(store, AdminAuth(cfg.admin_token or None), identity_provider=bytes.fromhex(
            cfg.identity_provider_key)), server)
    election_pb2_grpc.add_ElectionServiceServicer_to_server(ElectionService(store, tally),
                                                            server)
    election_pb2_grpc.add_BallotBoxServiceServicer_to_server(BallotBoxService(store, box), server)
    election_pb2_grpc.add_GuardianServiceServicer_to_server(GuardianService(ceremony, tally),
                                                            server)
    election_pb2_grpc.add_IssuanceServiceServicer_to_server(IssuanceService(intake), server)
    services = list(SERVICES)
    health_servicer = await add_health_and_reflection(server, services)
    if cfg.development:  # visible to any health check: grpc_health_probe -service ...
        await health_servicer.set(DEVELOPMENT_SERVICE, health_pb2.HealthCheckResponse.SERVING)
    if cfg.public_tls:
        port = bind(server, cfg.listen, TlsConfig(
            Path(cfg.tls_cert), Path(cfg.tls_key)).server_credentials(require_client_cert=False))
    else:
        port = bind(server, cfg.listen)
    mtls_port = None
    if cfg.guardian_listen:
        mtls_port = bind(server, cfg.guardian_listen, TlsConfig(
            Path(cfg.tls_cert), Path(cfg.tls_key), Path(cfg.client_ca))
            .server_credentials(require_client_cert=True))
    if cfg.metrics_listen:
        print(f"ownervote server: metrics on port {serve_metrics(cfg.metrics_listen)}",
              flush=True)
    await server.start()
    driver.start(cfg.lifecycle_tick)
    log.info("serving", extra={"port": port, "guardian_port": mtls_port, "origin": cfg.origin,
                               "log_verifier_key": signer.verifier().vkey()})
    print(f"ownervote server listening on port {port}", flush=True)
    if mtls_port is not None:
        print(f"ownervote server: guardians, administrators and registrars (mutual TLS) on port "
              f"{mtls_port}", flush=True)
    await stop_on_signals().wait()
    log.info("shutting down")
    await driver.stop()
    await health_servicer.enter_graceful_shutdown()
    await server.stop(grace=10)
    await verifier.close()
    await points.close()
    if tally_pool is not None:
        tally_pool.shutdown(cancel_futures=True)
    await node.ledger.close()
    await engine.dispose()


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m server", description=__doc__.split("\n")[0])
    p.add_argument("command", nargs="?", choices=("serve", "migrate"), default="serve",
                   help="serve (the default), or migrate: bring the configured database's schema "
                        "to this release's revision and exit")
    p.add_argument("--config", type=Path, help="TOML settings file (env OWNERVOTE_* overrides)")
    args = p.parse_args()
    setup_logging()
    try:
        cfg = load_config(args.config)
    except ConfigError as exc:
        raise SystemExit(f"configuration: {exc}") from exc
    if args.command == "migrate":
        raise SystemExit(asyncio.run(migrate_command(cfg.dsn)))
    asyncio.run(serve(cfg, "python -m server migrate" + (
        f" --config {args.config}" if args.config else "")))


if __name__ == "__main__":
    main()
