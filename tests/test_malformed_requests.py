"""A body that does not parse as the method's request message is INVALID_ARGUMENT with a
``BadRequest`` detail (field ``request``) and reason MALFORMED_REQUEST, on every unary RPC of
every process of a deployment — the server's public and mutual-TLS ports, a registrar, a witness
— and each process logs it in one line, with no traceback (server/request_parsing.py)."""

from __future__ import annotations

import asyncio
import re
import urllib.request
from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from ownervote.v1 import election_pb2, election_pb2_grpc, ledger_pb2, witness_pb2

from clients.local_cluster import LocalCluster

GARBAGE = b"\xff\xff\xff\xff"  # wire type 7: no protobuf message parses it

SERVICES = {s.full_name: s for m in (election_pb2, ledger_pb2, witness_pb2)
            for s in m.DESCRIPTOR.services_by_name.values()}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = LocalCluster(tmp_path_factory.mktemp("malformed") / "cluster", validating=False,
                     server_settings=(('metrics_listen = "127.0.0.1:0"',),))
    c.start()
    yield c
    c.stop()


def _methods(service_names):
    for name in service_names:
        for m in SERVICES[name].methods:
            if not m.client_streaming:
                yield f"/{name}/{m.name}", m.server_streaming
    yield "/grpc.health.v1.Health/Check", False


async def _answer(channel: grpc.aio.Channel, method: str, streaming: bool):
    call = (channel.unary_stream if streaming else channel.unary_unary)(method)
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        if streaming:
            async for _ in call(GARBAGE, timeout=10):
                pass
        else:
            await call(GARBAGE, timeout=10)
    return exc.value


def _assert_malformed(err: grpc.aio.AioRpcError, method: str) -> None:
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, (method, err.code(), err.details())
    status = rpc_status.from_call(err)
    kinds = {}
    for d in status.details:
        for cls in (error_details_pb2.ErrorInfo, error_details_pb2.BadRequest):
            if d.Is(cls.DESCRIPTOR):
                kinds[cls.__name__] = cls()
                d.Unpack(kinds[cls.__name__])
    assert kinds["ErrorInfo"].reason == "MALFORMED_REQUEST", method
    assert kinds["BadRequest"].field_violations[0].field == "request", method


async def test_every_rpc_of_every_process_answers_a_body_that_does_not_parse(cluster):
    targets = [
        ("server, public port", cluster.address, cluster.credentials(),
         [n for n in SERVICES if not n.endswith("WitnessService")
          and not n.endswith("RegistrationService")]),
        ("server, mutual-TLS port", cluster.secure_address, cluster.credentials("admin"),
         ["ownervote.v1.AdminService", "ownervote.v1.GuardianService",
          "ownervote.v1.IssuanceService"]),
        ("registrar", next(iter(cluster.registrar_addresses.values())),
         cluster.credentials(), ["ownervote.v1.RegistrationService"]),
        ("witness", cluster.witness_addresses[0], None, ["ownervote.v1.WitnessService"]),
    ]
    asked = 0
    for what, address, creds, services in targets:
        channel = (grpc.aio.insecure_channel(address) if creds is None
                   else grpc.aio.secure_channel(address, creds))
        async with channel:
            for method, streaming in _methods(services):
                err = await _answer(channel, method, streaming)
                if err.code() == grpc.StatusCode.UNIMPLEMENTED:
                    pytest.fail(f"{what} does not serve {method}")
                _assert_malformed(err, f"{what} {method}")
                asked += 1
    assert asked >= 25
    logs = list(cluster.directory.glob("*.log"))
    assert logs
    for f in logs:
        text = f.read_text()
        assert "Traceback" not in text and "Exception deserializing" not in text, f.name
    server_log = (cluster.directory / "server.log").read_text()
    assert server_log.count("a request that does not parse") >= 20


async def test_the_server_serves_its_metrics(cluster):
    """A scrape of the server's Prometheus endpoint (metrics_listen): RPC outcomes by method,
    code and reason, and the ledger's and ballot box's histograms (docs/metrics.md)."""
    port = re.search(r"metrics on port (\d+)", (cluster.directory / "server.log").read_text())
    assert port, "the server did not say where its metrics are"
    async with cluster.channel() as channel:
        with pytest.raises(grpc.aio.AioRpcError):
            await election_pb2_grpc.ElectionServiceStub(channel).GetElection(
                election_pb2.GetElectionRequest(election_id="no-such-election"), timeout=10)
    url = f"http://127.0.0.1:{port.group(1)}/metrics"
    text = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=10).read().decode())
    assert re.search(r'ownervote_rpc_total\{code="NOT_FOUND",method="GetElection",'
                     r'reason="NO_SUCH_ELECTION"\} [1-9]', text), text[:2000]
    for name, kind in (("ownervote_ballot_verify_seconds", "histogram"),
                       ("ownervote_ledger_batch_entries", "histogram"),
                       ("ownervote_ledger_commit_seconds", "histogram"),
                       ("ownervote_database_errors", "counter"),
                       ("ownervote_rpc", "counter")):
        assert f"# TYPE {name}{'_total' if kind == 'counter' else ''} {kind}" in text \
            or f"# TYPE {name} {kind}" in text, name
    # a roll imported goes on the ledger: a batch committed and counted
    roll = (Path(__file__).parent / "vectors" / "rolls" / "sample_roll.csv").read_bytes()
    async with cluster.channel(cluster.secure_address, "admin") as channel:
        await election_pb2_grpc.AdminServiceStub(channel).ImportRoll(
            election_pb2.ImportRollRequest(community_id="metrics", csv=roll), timeout=30)
    text = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=10).read().decode())
    assert re.search(r"ownervote_ledger_batch_entries_count [1-9]", text), "no batch counted"
