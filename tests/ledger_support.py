"""In-process logs and witnesses for the ledger tests."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from ownervote.v1 import ledger_pb2_grpc, witness_pb2_grpc

from crypto.log.checkpoint import CosignatureSigner
from crypto.log.note import Ed25519Signer
from crypto.log.trust import is_majority, make_bundle
from server.db import make_engine
from server.election.append_guard import ElectionAppendGuard
from server.ledger.cosign import WitnessEndpoint
from server.ledger.node import LogNode, add_ledger_service, build_log
from server.schema import create_schema
from server.witness.service import FollowedLog, Witness
from server.witness.store import WitnessStore


@dataclass
class RunningWitness:
    witness: Witness
    signer: CosignatureSigner
    server: grpc.aio.Server
    address: str
    engine: object
    validating_signer: CosignatureSigner | None = None

    async def stop(self) -> None:
        await self.server.stop(None)
        await self.witness.close()
        await self.engine.dispose()


async def start_witness(tmp: Path, name: str, follows: list[FollowedLog], *,
                        validator=None, validator_factory=None) -> RunningWitness:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp / (name + '.db')}")
    store = WitnessStore(engine)
    await create_schema(engine)
    signer = CosignatureSigner.generate(name)
    validating = validator is not None or validator_factory is not None
    vsigner = CosignatureSigner.generate(name + "/validated") if validating else None
    w = Witness(store, signer, follows, validating_signer=vsigner, validator=validator,
                validator_factory=validator_factory)
    server = grpc.aio.server()
    witness_pb2_grpc.add_WitnessServiceServicer_to_server(w, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return RunningWitness(w, signer, server, f"127.0.0.1:{port}", engine, vsigner)


@dataclass
class LogHarness:
    node: LogNode
    engine: object
    server: grpc.aio.Server
    address: str
    witnesses: list[RunningWitness] = field(default_factory=list)
    channel: grpc.aio.Channel | None = None
    quorum: int = 0

    def write_bundle(self, path: Path, registrars=None) -> Path:
        """This log's trust bundle (its key, its witnesses' trusted keys, its quorum; with
        ``registrars``, a tests.support.registrars.Registrars, their keys and identity provider)
        in ``path``: what the auditor and the ledger CLI pin."""
        idp = bytes(32) if registrars is None else registrars.identity_provider
        pins = {} if registrars is None else {r.name: r.key for r in registrars.refs}
        bundle = make_bundle(self.node.signer.name, self.node.signer.verifier().vkey(),
                             [(w.validating_signer or w.signer).verifier().vkey()
                              for w in self.witnesses], self.quorum, idp,
                             development=2 * self.quorum <= len(self.witnesses),
                             registrars=pins)
        path.write_bytes(bundle.encode())
        return path

    @property
    def ledger(self):
        return self.node.ledger

    @property
    def stub(self) -> ledger_pb2_grpc.LedgerServiceStub:
        if self.channel is None:
            self.channel = grpc.aio.insecure_channel(self.address)
        return ledger_pb2_grpc.LedgerServiceStub(self.channel)

    async def stop(self) -> None:
        if self.channel is not None:
            await self.channel.close()
        await self.server.stop(None)
        await self.node.ledger.close()
        for w in self.witnesses:
            await w.stop()
        await self.engine.dispose()


async def start_log(dsn: str, tmp: Path, *, n_witnesses: int = 3, quorum: int = 2,
                    origin: str | None = None, max_batch: int = 1000,
                    validator=None, validator_factory=None, guard: bool = True) -> LogHarness:
    """A log and its witnesses in this process; ``guard=False``: a log without the sequencer's
    election guard (an operator's modified server, whose ledger the verifiers must refuse)."""
    origin = origin or f"test.ownervote.example/log-{secrets.token_hex(4)}"
    signer = Ed25519Signer.generate(origin)
    engine = make_engine(dsn)
    # the log's read service must be up before validating witnesses fetch from it
    server = grpc.aio.server()
    port = server.add_insecure_port("127.0.0.1:0")
    address = f"127.0.0.1:{port}"
    witnesses = [await start_witness(tmp, f"witness-{i}.example",
                                     [FollowedLog(origin, signer.verifier(), address)],
                                     validator=validator,
                                     validator_factory=validator_factory)
                 for i in range(n_witnesses)]
    # a validating witness is trusted for its validated cosignature
    endpoints = [WitnessEndpoint((w.validating_signer or w.signer).verifier(), w.address)
                 for w in witnesses]
    await create_schema(engine)
    # a harness with fewer witnesses than a majority is a development log (its checkpoints say so)
    node = await build_log(engine, signer, endpoints, quorum, max_batch=max_batch,
                           development=not is_majority(quorum, n_witnesses))
    add_ledger_service(server, node)
    await server.start()
    # as in the server (server/__main__.py): the sequencer keeps the election's ordering rules
    if guard:
        node.ledger.guard = ElectionAppendGuard(engine, node.ledger.store.log_id)
    await node.ledger.start()
    return LogHarness(node, engine, server, address, witnesses, quorum=quorum)
