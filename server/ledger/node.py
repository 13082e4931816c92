"""Assembling a log: key, store, sequencer, cosigning, read service."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import grpc
from ownervote.v1 import ledger_pb2_grpc
from sqlalchemy.ext.asyncio import AsyncEngine

from crypto.log.checkpoint import Checkpoint, CosignatureVerifier, SignedCheckpoint
from crypto.log.note import Ed25519Signer
from crypto.log.trust import DEVELOPMENT_EXTENSION, is_majority

from .cosign import CosignCollector, WitnessEndpoint, WitnessPolicy
from .log import Ledger
from .service import LedgerService


def parse_witness(spec: str) -> WitnessEndpoint:
    """``VKEY@HOST:PORT``: a witness's cosignature verifier key and its address."""
    vkey, sep, address = spec.rpartition("@")
    if not sep:
        raise ValueError("a witness is VKEY@HOST:PORT")
    return WitnessEndpoint(CosignatureVerifier.from_vkey(vkey), address)


def check_quorum(witnesses: int, quorum: int, development: bool) -> None:
    if not 0 <= quorum <= witnesses:
        raise ValueError("the quorum must be between 0 and the number of witnesses")
    if not is_majority(quorum, witnesses) and not development:
        raise ValueError(f"a quorum of {quorum} of {witnesses} witnesses is not a strict "
                         "majority: only a development log runs so (its checkpoints say so)")


@dataclass
class LogNode:
    ledger: Ledger
    service: LedgerService
    signer: Ed25519Signer


async def build_log(engine: AsyncEngine, signer: Ed25519Signer,
                    witnesses: Sequence[WitnessEndpoint], quorum: int, *,
                    max_batch: int = 1000, development: bool = False) -> LogNode:
    """The log of origin ``signer.name`` (C2SP: the log's key name is its origin), over a
    database whose schema exists (server.schema.create_schema). Without a strict majority of
    witnesses in its quorum a log runs only when told it is for ``development``, and then says so
    in every checkpoint it signs (crypto.log.trust.DEVELOPMENT_EXTENSION)."""
    check_quorum(len(witnesses), quorum, development)
    origin = signer.name
    policy = WitnessPolicy(tuple(w.verifier for w in witnesses), quorum)
    extensions = (DEVELOPMENT_EXTENSION,) if development else ()

    def sign(size: int, root: bytes) -> bytes:
        return SignedCheckpoint.sign(Checkpoint(origin, size, root, extensions),
                                     signer).encode()

    ledger = Ledger(engine, origin, sign, max_batch=max_batch)
    if witnesses:  # the collector shares the ledger's store: its proofs read recent nodes there
        ledger.collector = CosignCollector(ledger.store, signer.verifier(), policy,
                                           list(witnesses))
    service = LedgerService(ledger.store, signer.verifier(), policy, development=development)
    return LogNode(ledger, service, signer)


def add_ledger_service(server: grpc.aio.Server, node: LogNode) -> None:
    ledger_pb2_grpc.add_LedgerServiceServicer_to_server(node.service, server)
