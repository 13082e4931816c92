"""The clients' one channel policy (clients/channel.py): an UNAVAILABLE call is retried with
backoff up to four attempts, a CastBallot is not (its UNAVAILABLE says the ballot is on the
ledger: the SDK waits for the receipt), and the JSON the mobile apps copy is the one in use."""

from __future__ import annotations

import json

import grpc
import pytest
from ownervote.v1 import election_pb2

from clients.channel import SERVICE_CONFIG, open_channel, service_config_json


@pytest.fixture
async def flaky():
    """A server whose every method answers UNAVAILABLE twice, then succeeds (GetCeremony:
    INVALID_ARGUMENT); ``calls`` counts the attempts per method."""
    calls: dict[str, int] = {}

    class Handler(grpc.GenericRpcHandler):
        def service(self, details):
            method = details.method

            async def answer(request, context):
                calls[method] = calls.get(method, 0) + 1
                if method.endswith("/GetCeremony"):
                    await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "no")
                if calls[method] <= 2:
                    await context.abort(grpc.StatusCode.UNAVAILABLE, "busy")
                return b""

            return grpc.unary_unary_rpc_method_handler(answer)

    server = grpc.aio.server()
    server.add_generic_rpc_handlers((Handler(),))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield f"127.0.0.1:{port}", calls
    await server.stop(None)


async def test_unavailable_is_retried_and_cast_ballot_is_not(flaky):
    address, calls = flaky
    async with open_channel(address) as channel:
        get = "/ownervote.v1.ElectionService/GetElection"
        await channel.unary_unary(get)(b"")
        assert calls[get] == 3  # two UNAVAILABLE answers, then the answer
        cast = "/ownervote.v1.BallotBoxService/CastBallot"
        with pytest.raises(grpc.aio.AioRpcError) as exc:
            await channel.unary_unary(cast)(b"")
        assert exc.value.code() == grpc.StatusCode.UNAVAILABLE and calls[cast] == 1
        other = "/ownervote.v1.GuardianService/GetCeremony"  # not retryable: asked once
        with pytest.raises(grpc.aio.AioRpcError):
            await channel.unary_unary(other)(b"")
        assert calls[other] == 1


def test_the_service_config_is_the_documented_json():
    d = json.loads(service_config_json())
    assert d == SERVICE_CONFIG
    general, cast = d["methodConfig"]
    assert general["retryPolicy"]["retryableStatusCodes"] == ["UNAVAILABLE"]
    assert general["timeout"] == cast["timeout"] == "30s" and "retryPolicy" not in cast
    assert {"service": "ownervote.v1.LedgerService"} in general["name"]


def test_every_request_message_of_the_sdk_is_a_known_service():
    services = {n["service"] for n in SERVICE_CONFIG["methodConfig"][0]["name"]}
    proto = {f"ownervote.v1.{s}" for s in election_pb2.DESCRIPTOR.services_by_name}
    assert proto <= services
