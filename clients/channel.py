"""Opening a gRPC channel to the server the way each client needs it: TLS with a pinned CA
(``--ca``: every server outside development serves TLS on its public port), mutual TLS with a
client certificate (guardians, administrators: ``--ca --cert --key``, on the server's
mutual-TLS port), or plain gRPC without ``--ca`` (a development server only)."""

from __future__ import annotations

import argparse
from pathlib import Path

import grpc
from ownervote.v1 import wire


def open_channel(server: str, ca: Path | None = None, cert: Path | None = None,
                 key: Path | None = None) -> grpc.aio.Channel:
    if ca is None:
        if cert is not None:
            raise ValueError("a client certificate needs --ca (mutual TLS)")
        return grpc.aio.insecure_channel(server)
    creds = grpc.ssl_channel_credentials(
        ca.read_bytes(), key.read_bytes() if key else None, cert.read_bytes() if cert else None)
    return grpc.aio.secure_channel(server, creds)


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
