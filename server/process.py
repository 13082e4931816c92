"""What every server process of the project does around its services: one set of transport
settings (:func:`make_server`, :func:`bind`), standard gRPC health checking and server
reflection, and a stop event set by SIGINT / SIGTERM."""

from __future__ import annotations

import asyncio
import errno
import signal
import socket
from collections.abc import Iterable

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from .request_parsing import ParseRequests

#: Every server process's gRPC settings (grpc/include/grpc/impl/channel_arg_names.h):
#: ``so_reuseport`` off, so that a second process on a port in use fails to start instead of
#: silently sharing it (and splitting the traffic); keepalive pings to find dead peers; a
#: maximum connection age (with a grace for calls in flight), so that long-lived client
#: connections rebalance across the stateless server processes behind a load balancer.
SERVER_OPTIONS: tuple[tuple[str, int], ...] = (
    ("grpc.so_reuseport", 0),
    ("grpc.keepalive_time_ms", 60_000),
    ("grpc.keepalive_timeout_ms", 20_000),
    ("grpc.http2.min_ping_interval_without_data_ms", 30_000),
    ("grpc.max_connection_age_ms", 30 * 60_000),
    ("grpc.max_connection_age_grace_ms", 60_000),
)


def make_server() -> grpc.aio.Server:
    """A gRPC server with :data:`SERVER_OPTIONS`, answering a request that does not parse
    INVALID_ARGUMENT (server/request_parsing.py)."""
    return grpc.aio.server(options=SERVER_OPTIONS, interceptors=[ParseRequests()])


def bind(server: grpc.aio.Server, address: str,
         credentials: grpc.ServerCredentials | None = None) -> int:
    """Listen on ``address`` (TLS with ``credentials``); the port. A port in use (or an address
    that cannot be bound) ends the process with one line saying so."""
    if _in_use(address):  # before gRPC tries (it would log its own failure first)
        port = 0
    else:
        port = _add_port(server, address, credentials)
    if not port:
        raise SystemExit(f"cannot listen on {address}: the port is in use by another process "
                         "(or the address is not this machine's); choose another")
    return port


def _in_use(address: str) -> bool:
    """Whether another socket listens on ``address``'s port already (a plain bind fails)."""
    host, _, port = address.rpartition(":")
    if not port.isdigit() or int(port) == 0:
        return False
    try:
        infos = socket.getaddrinfo(host.strip("[]") or None, int(port),
                                   type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError:
        return False  # gRPC's own bind says what is wrong with the address
    for family, kind, proto, _, sockaddr in infos:
        with socket.socket(family, kind, proto) as probe:
            try:
                probe.bind(sockaddr)
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    return True
    return False


def _add_port(server: grpc.aio.Server, address: str,
              credentials: grpc.ServerCredentials | None) -> int:
    try:
        return (server.add_insecure_port(address) if credentials is None
                else server.add_secure_port(address, credentials))
    except RuntimeError:
        return 0


async def add_health_and_reflection(server: grpc.aio.Server,
                                    services: Iterable[str]) -> health.aio.HealthServicer:
    """Register health (each service SERVING) and reflection for the named services."""
    services = list(services)
    servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    for name in services:
        await servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    reflection.enable_server_reflection(
        (*services, reflection.SERVICE_NAME, health.SERVICE_NAME), server)
    return servicer


def stop_on_signals() -> asyncio.Event:
    """An event set by SIGINT or SIGTERM (graceful shutdown starts when it is set)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop
