"""A forked view shown to one client, over real processes: two logs under the same origin and log
key, each co-signed by the same witness keys (a colluding majority of witnesses: the same keys
running twice, with two states). Each history opens under the bundle on its own; a client that
saw one and is then shown the other gets ForkedView, its own refusal, and keeps its view."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from ownervote.v1 import ledger_pb2, ledger_pb2_grpc

from clients.voter_sdk import VoterClient
from crypto.errors import ForkedView
from crypto.log.checkpoint import CosignatureSigner
from crypto.log.note import Ed25519Signer
from crypto.log.trust import make_bundle
from crypto.log.view import LogView
from tests.test_ledger_processes import start

ORIGIN = "fork.example/log"


@pytest.fixture
def two_histories(tmp_path):
    log = Ed25519Signer.generate(ORIGIN)
    (tmp_path / "log.key").write_text(log.skey() + "\n")
    signers = [CosignatureSigner.generate(f"w{i}.example") for i in range(3)]
    for i, s in enumerate(signers):
        (tmp_path / f"w{i}.key").write_text(s.skey() + "\n")
    procs, logs = [], []
    try:
        for branch, n in (("a", 40), ("b", 55)):
            endpoints = []
            for i in range(3):  # the same witness key, another state: it co-signs both branches
                p, addr = start(["server.witness", "--name", f"w{i}.example", "--key-file",
                                 str(tmp_path / f"w{i}.key"), "--db",
                                 f"sqlite+aiosqlite:///{tmp_path / f'w{i}{branch}.db'}",
                                 "--follow", f"{ORIGIN}={log.verifier().vkey()}"],
                                tmp_path / f"w{i}{branch}.out")
                procs.append(p)
                endpoints += ["--witness", f"{signers[i].verifier().vkey()}@{addr}"]
            p, addr = start(["server.ledger", "--dsn",
                             f"sqlite+aiosqlite:///{tmp_path / f'log{branch}.db'}", "--origin",
                             ORIGIN, "--key-file", str(tmp_path / "log.key"), "--quorum", "2",
                             "--generate", str(n), "--entry-size", "64", *endpoints],
                            tmp_path / f"log{branch}.out")
            procs.append(p)
            logs.append(addr)
        bundle = make_bundle(ORIGIN, log.verifier().vkey(),
                             [s.verifier().vkey() for s in signers], 2, bytes(32))
        yield bundle, logs
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=30)


async def _cosigned(address: str, size: int) -> bytes:
    async with grpc.aio.insecure_channel(address) as channel:
        stub = ledger_pb2_grpc.LedgerServiceStub(channel)
        for _ in range(200):
            try:
                r = await stub.GetCheckpoint(ledger_pb2.GetCheckpointRequest())
                if r.tree_size >= size:
                    return r.signed_note
            except grpc.RpcError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"no co-signed checkpoint of {size} entries at {address}")


async def test_a_client_shown_a_fork_refuses_it(two_histories):
    bundle, (a, b) = two_histories
    note_a, note_b = await _cosigned(a, 40), await _cosigned(b, 55)
    assert bundle.open_checkpoint(note_a).root_hash != bundle.open_checkpoint(note_b).root_hash
    view = LogView(bundle)
    async with grpc.aio.insecure_channel(a) as ca, grpc.aio.insecure_channel(b) as cb:
        await VoterClient(ca, bundle, view).observe(note_a)  # the client saw branch a
        kept = (view.size, view.root)
        with pytest.raises(ForkedView, match="not consistent"):  # then it is shown branch b:
            await VoterClient(cb, bundle, view).observe(note_b)  # b's proof cannot join them
        assert (view.size, view.root) == kept
        # another client that saw only branch b takes it: the fork shows only across views
        fresh = LogView(bundle)
        await VoterClient(cb, bundle, fresh).observe(note_b)
        assert fresh.root != view.root
