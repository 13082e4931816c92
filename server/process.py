"""What every server process of the project does around its services: standard gRPC health
checking and server reflection, and a stop event set by SIGINT / SIGTERM."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterable

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection


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
