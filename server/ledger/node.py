"""Assembling a log: key, store, sequencer, cosigning, read service."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import grpc
from ownervote.v1 import ledger_pb2_grpc
from sqlalchemy.ext.asyncio import AsyncEngine

from crypto.checkpoint import Checkpoint, CosignatureVerifier, SignedCheckpoint
from crypto.note import Ed25519Signer

from .cosign import CosignCollector, WitnessEndpoint, WitnessPolicy
from .log import Ledger
from .service import LedgerService
from .store import LogStore, create_schema


def load_or_create_signer(path: Path, name: str) -> Ed25519Signer:
    """The log's Ed25519 key as a C2SP signer key string in a 0600 file (created if missing)."""
    if path.exists():
        signer = Ed25519Signer.from_skey(path.read_text().strip())
        if signer.name != name:
            raise SystemExit(f"{path} holds the key of {signer.name!r}, not {name!r}")
        return signer
    signer = Ed25519Signer.generate(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(signer.skey() + "\n")
    return signer


def parse_witness(spec: str) -> WitnessEndpoint:
    """``VKEY@HOST:PORT``: a witness's cosignature verifier key and its address."""
    vkey, sep, address = spec.rpartition("@")
    if not sep:
        raise ValueError("a witness is VKEY@HOST:PORT")
    return WitnessEndpoint(CosignatureVerifier.from_vkey(vkey), address)


@dataclass
class LogNode:
    ledger: Ledger
    service: LedgerService
    signer: Ed25519Signer


async def build_log(engine: AsyncEngine, signer: Ed25519Signer,
                    witnesses: Sequence[WitnessEndpoint], quorum: int, *,
                    max_batch: int = 1000, create: bool = True) -> LogNode:
    """The log of origin ``signer.name`` (C2SP: the log's key name is its origin)."""
    if create:
        await create_schema(engine)
    origin = signer.name
    policy = WitnessPolicy(tuple(w.verifier for w in witnesses), quorum)
    collector = None

    def sign(size: int, root: bytes) -> bytes:
        return SignedCheckpoint.sign(Checkpoint(origin, size, root), signer).encode()

    if witnesses:
        collector = CosignCollector(LogStore(engine, origin), signer.verifier(), policy,
                                    list(witnesses))
    ledger = Ledger(engine, origin, sign, max_batch=max_batch, collector=collector)
    service = LedgerService(ledger.store, signer.verifier(), policy)
    return LogNode(ledger, service, signer)


def add_ledger_service(server: grpc.aio.Server, node: LogNode) -> None:
    ledger_pb2_grpc.add_LedgerServiceServicer_to_server(node.service, server)
