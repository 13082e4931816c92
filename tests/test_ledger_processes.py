"""The log and three witnesses as separate processes over gRPC: health, reflection, cosigning,
receipts from GetReceipt that a voter verifies with nothing but the keys; a witness process
that keeps its latest co-signed checkpoint across a restart."""

from __future__ import annotations

import asyncio
import time

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from ownervote.v1 import ledger_pb2, ledger_pb2_grpc, witness_pb2, witness_pb2_grpc

from crypto.errors import InvalidProof
from crypto.log import merkle
from crypto.log.checkpoint import (
    Checkpoint,
    CosignatureSigner,
    CosignatureVerifier,
    SignedCheckpoint,
)
from crypto.log.note import Ed25519Signer, Ed25519Verifier, open_note
from crypto.log.receipt import Receipt, verify_receipt
from server.status import details_of
from tests.support.processes import start


@pytest.fixture
def processes(tmp_path):
    origin = "processes.example/log"
    log_signer = Ed25519Signer.generate(origin)
    (tmp_path / "log.key").write_text(log_signer.skey() + "\n")
    procs, witnesses = [], []
    try:
        for i in range(3):
            name = f"witness-{i}.example"
            signer = CosignatureSigner.generate(name)
            (tmp_path / f"w{i}.key").write_text(signer.skey() + "\n")
            p, addr = start(["server.witness", "--name", name, "--key-file",
                             str(tmp_path / f"w{i}.key"), "--db",
                             f"sqlite+aiosqlite:///{tmp_path / f'w{i}.db'}", "--follow",
                             f"{origin}={log_signer.verifier().vkey()}"], tmp_path / f"w{i}.out")
            procs.append(p)
            witnesses.append((signer.verifier(), addr))
        wargs = [a for v, addr in witnesses for a in ("--witness", f"{v.vkey()}@{addr}")]
        p, log_addr = start(["server.ledger", "--dsn",
                             f"sqlite+aiosqlite:///{tmp_path / 'log.db'}", "--origin", origin,
                             "--key-file", str(tmp_path / "log.key"), "--quorum", "2",
                             "--generate", "500", "--entry-size", "100", *wargs],
                            tmp_path / "log.out")
        procs.append(p)
        yield log_addr, log_signer.verifier(), [v for v, _ in witnesses], tmp_path
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=30)
        assert all(p.returncode == 0 for p in procs), "a process did not shut down cleanly"


async def test_separate_processes_cosign_and_serve_receipts(processes):
    log_addr, log_v, wit_vs, tmp = processes
    async with grpc.aio.insecure_channel(log_addr) as channel:
        health = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service="ownervote.v1.LedgerService"))
        assert health.status == health_pb2.HealthCheckResponse.SERVING
        refl = reflection_pb2_grpc.ServerReflectionStub(channel)
        async for r in refl.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(
                list_services="")])):
            names = {s.name for s in r.list_services_response.service}
            break
        assert "ownervote.v1.LedgerService" in names
        stub = ledger_pb2_grpc.LedgerServiceStub(channel)
        info = await stub.GetLogInfo(ledger_pb2.GetLogInfoRequest())
        assert Ed25519Verifier.from_vkey(info.log_verifier_key).key_id == log_v.key_id
        policy = [CosignatureVerifier.from_vkey(w.verifier_key) for w in info.witnesses]
        size = 0
        deadline = time.monotonic() + 20
        while size < 500 and time.monotonic() < deadline:
            try:
                size = (await stub.GetCheckpoint(ledger_pb2.GetCheckpointRequest())).tree_size
            except grpc.aio.AioRpcError:
                pass  # no co-signed checkpoint yet
            await asyncio.sleep(0.05)
        if size != 500:
            print("".join(p.read_text() for p in sorted(tmp.glob("*.out"))))
        assert size == 500
        entries = await stub.GetEntries(ledger_pb2.GetEntriesRequest(start=123, count=1))
        r = (await stub.GetReceipt(ledger_pb2.GetReceiptRequest(index=123))).receipt
        receipt = Receipt(r.index, r.leaf_hash, tuple(r.inclusion_proof), r.signed_note)
        checkpoint = verify_receipt(receipt, log_v, wit_vs, 2, entries.entries[0])
        assert checkpoint.size == 500 and receipt.tree_size == 500
        with pytest.raises(InvalidProof):
            verify_receipt(receipt, log_v, wit_vs, 2, b"another entry")
        by_hash = (await stub.GetReceipt(ledger_pb2.GetReceiptRequest(
            leaf_hash=merkle.leaf_hash(entries.entries[0])))).receipt
        assert by_hash.index == 123
        for req, code in ((ledger_pb2.GetReceiptRequest(index=500),
                           grpc.StatusCode.FAILED_PRECONDITION),
                          (ledger_pb2.GetReceiptRequest(leaf_hash=b"x"),
                           grpc.StatusCode.INVALID_ARGUMENT),
                          (ledger_pb2.GetReceiptRequest(leaf_hash=bytes(32)),
                           grpc.StatusCode.NOT_FOUND),
                          (ledger_pb2.GetReceiptRequest(), grpc.StatusCode.INVALID_ARGUMENT)):
            with pytest.raises(grpc.aio.AioRpcError) as exc:
                await stub.GetReceipt(req)
            assert details_of(exc.value)["code"] == code
    assert {v.name for v in policy} == {v.name for v in wit_vs}


async def test_a_witness_process_keeps_its_latest_checkpoint_across_a_restart(tmp_path):
    origin = "restart.example/log"
    log_signer = Ed25519Signer.generate(origin)
    signer = CosignatureSigner.generate("witness.example")
    (tmp_path / "w.key").write_text(signer.skey() + "\n")
    args = ["server.witness", "--name", "witness.example", "--key-file", str(tmp_path / "w.key"),
            "--db", f"sqlite+aiosqlite:///{tmp_path / 'w.db'}",
            "--follow", f"{origin}={log_signer.verifier().vkey()}"]
    leaves = [merkle.leaf_hash(b"%d" % i) for i in range(6)]
    note = SignedCheckpoint.sign(Checkpoint(origin, 6, merkle.root_from_leaves(leaves)),
                                 log_signer).encode()
    request = witness_pb2.GetLatestCheckpointRequest(origin=origin)
    kept = []
    for run in range(2):
        p, address = start(args, tmp_path / f"w{run}.out")
        try:
            async with grpc.aio.insecure_channel(address) as channel:
                stub = witness_pb2_grpc.WitnessServiceStub(channel)
                if run == 0:
                    await stub.AddCheckpoint(witness_pb2.AddCheckpointRequest(
                        old_size=0, signed_note=note))
                kept.append(await stub.GetLatestCheckpoint(request))
        finally:
            p.terminate()
            assert p.wait(timeout=30) == 0
    assert kept[1] == kept[0] and kept[1].tree_size == 6
    open_note(kept[1].signed_note, [signer.verifier()])  # its own cosignature, kept
