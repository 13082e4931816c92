"""Opening a gRPC channel to the server the way each client needs it: TLS with a pinned CA
(``--ca``: every server outside development serves TLS on its public port), mutual TLS with a
client certificate (guardians, administrators: ``--ca --cert --key``, on the server's
mutual-TLS port), or plain gRPC without ``--ca`` (a development server only).

Every channel carries :data:`SERVICE_CONFIG` (gRPC service config, gRFC A6 retries): a 30 s
deadline on every call that sets none, and up to 4 attempts of a call answered UNAVAILABLE,
backing off 0.2 s × 2ⁿ up to 2 s. Every ownervote.v1 call is safe to retry: reads are reads, an
identical credential request gets the identical blind signature, the guardians' and
registrars' records are appended once, and an identical CastBallot is answered with the
original receipt. CastBallot alone is not retried by the channel: its UNAVAILABLE
(COSIGNING_PENDING) says the ballot is on the ledger and its receipt not yet co-signed, and the
SDK then waits for the receipt (GetReceipt) instead of sending it again and waiting the same
co-signing out once per attempt. The mobile apps copy this JSON as it is
(``service_config_json()``)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import grpc
from ownervote.v1 import wire

SERVICES = ("AdminService", "ElectionService", "RegistrationService", "BallotBoxService",
            "IssuanceService", "GuardianService", "LedgerService", "WitnessService")

SERVICE_CONFIG = {
    "methodConfig": [{
        "name": [{"service": f"ownervote.v1.{s}"} for s in SERVICES],
        "timeout": "30s",
        "retryPolicy": {
            "maxAttempts": 4,
            "initialBackoff": "0.2s",
            "maxBackoff": "2s",
            "backoffMultiplier": 2,
            "retryableStatusCodes": ["UNAVAILABLE"],
        },
    }, {  # the more specific name wins (gRFC A6): CastBallot has the deadline, no retries
        "name": [{"service": "ownervote.v1.BallotBoxService", "method": "CastBallot"}],
        "timeout": "30s",
    }],
}


def service_config_json() -> str:
    return json.dumps(SERVICE_CONFIG, separators=(",", ":"), sort_keys=True)


def channel_options() -> list[tuple[str, object]]:
    """The options every client channel is opened with."""
    return [("grpc.service_config", service_config_json()), ("grpc.enable_retries", 1)]


def open_channel(server: str, ca: Path | None = None, cert: Path | None = None,
                 key: Path | None = None) -> grpc.aio.Channel:
    if ca is None:
        if cert is not None:
            raise ValueError("a client certificate needs --ca (mutual TLS)")
        return grpc.aio.insecure_channel(server, options=channel_options())
    creds = grpc.ssl_channel_credentials(
        ca.read_bytes(), key.read_bytes() if key else None, cert.read_bytes() if cert else None)
    return grpc.aio.secure_channel(server, creds, options=channel_options())


def add_connection_arguments(p: argparse.ArgumentParser, *, client_cert: bool = False) -> None:
    p.add_argument("--server", required=True, help="HOST:PORT of the ownervote server")
    p.add_argument("--ca", type=Path, help="PEM CA of the server's certificate (TLS; without it, "
                   "plain gRPC to a development server)")
    if client_cert:
        p.add_argument("--cert", type=Path, help="PEM client certificate (mutual TLS)")
        p.add_argument("--key", type=Path, help="PEM private key of --cert")


def channel_from(args: argparse.Namespace) -> grpc.aio.Channel:
    return open_channel(args.server, args.ca, getattr(args, "cert", None),
                        getattr(args, "key", None))


def error_line(error: BaseException) -> str:
    """An error in one line; a failed call as its status code, its reason if it gave one and its
    message."""
    if not isinstance(error, grpc.RpcError) or not hasattr(error, "code"):
        return " ".join(str(error).split())
    d = wire.details_of(error)
    message = " ".join(str(d["message"] or "").split())
    return d["code"].name + (f" ({d['reason']})" if d["reason"] else "") + f": {message}"
